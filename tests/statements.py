"""Count the SQL statements an engine sends, for tests that a path makes no more round trips than it should."""
from __future__ import annotations

from sqlalchemy import event


class Statements:
    """Count the statements an engine sends, by their first words (e.g. "UPDATE deliveries", "SELECT")."""

    def __init__(self, engine) -> None:
        self.sent: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)
        self._engine = engine

    def _seen(self, _conn, _cursor, statement, _parameters, _context, _many) -> None:
        self.sent.append(" ".join(statement.split()[:3]))

    def __enter__(self) -> list[str]:
        self.sent.clear()
        return self.sent

    def __exit__(self, *_exc) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._seen)
