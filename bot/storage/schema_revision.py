"""Bring a database to this code's schema revision (Alembic), or check that it is there; refuse one newer than the code."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from .at_rest import AtRest
from .upgrades import UPGRADES, stored_version, upgrade

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

# Alembic is loaded only when a database is not at this code's revision (at_head says so without it):
# importing it and reading its scripts would add half a second to every start.

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the revision that is schema_version 9, where the upgrades from before Alembic end
RUN_MIGRATE = "run `companion migrate --config FILE` first"


class SchemaProblem(Exception):
    """The database's schema is not one this code can use as it is; the message names both versions and what to do."""


@dataclass(frozen=True)
class Migration:
    """Where a database's schema was (a revision, else a schema_version from before Alembic, else nothing) and is now."""

    before: str | None
    after: str
    version_before: int = 0

    def __str__(self) -> str:
        return f"from {described(self.before, self.version_before)} to revision {self.after}"


def described(revision: str | None, version: int) -> str:
    """Say where a schema is, in the words `companion migrate` and the refusals use."""
    if revision:
        return f"revision {revision}"
    return f"schema_version {version} (from before Alembic)" if version else "nothing (a new, empty database)"


@cache
def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS))


@cache
def shipped_head() -> str | None:
    """Return the newest revision among the revision files, read from their headers (None: not one newest)."""
    revisions, replaced = set(), set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        header = script.read_text(encoding="utf-8")
        if found := re.search(r"^revision\s*=\s*[\"'](\w+)[\"']", header, re.MULTILINE):
            revisions.add(found[1])
        if before := re.search(r"^down_revision\s*=\s*[\"'](\w+)[\"']", header, re.MULTILINE):
            replaced.add(before[1])
    newest = revisions - replaced
    return newest.pop() if len(newest) == 1 else None


def at_head(conn: Connection) -> str | None:
    """Return the database's revision if it is the newest this code ships (nothing to migrate), else None."""
    newest = shipped_head()
    if newest is None or not inspect(conn).has_table("alembic_version") or stored_version(conn) > len(UPGRADES):
        return None  # Alembic decides, or `stored` refuses a database newer than the code
    stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return newest if stamped == [newest] else None


def head() -> str:
    """Return the newest revision this code knows."""
    newest = _scripts().get_current_head()
    assert newest is not None  # the baseline at least
    return newest


def _refused(found: str) -> SchemaProblem:
    return SchemaProblem(
        f"the database is newer than this version of Session Companion: it is at {found}, and this version knows up to "
        f"revision {head()} (schema_version {len(UPGRADES)} before it). Run the version that migrated it, or restore a backup from before"
    )


def stored(conn: Connection) -> tuple[str | None, int]:
    """Return the database's revision (None: none stamped) and schema_version (0: none); raise SchemaProblem if newer than the code."""
    version = stored_version(conn)
    if version > len(UPGRADES):
        raise _refused(f"schema_version {version}")
    from alembic.runtime.migration import MigrationContext

    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is not None and revision not in {script.revision for script in _scripts().walk_revisions()}:
        raise _refused(f"revision {revision}")
    return revision, version


def migrate(conn: Connection, at_rest: AtRest) -> Migration:
    """Bring the schema to the newest revision in the caller's transaction; a database from before Alembic is brought to
    schema_version 9 by its own upgrades first (one of them rewrites rows with the keys), then stamped at the baseline."""
    from alembic import command
    from alembic.config import Config

    before, version = stored(conn)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    if before is None and version:
        upgrade(conn, at_rest)
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    return Migration(before, head(), version if before is None else 0)


def require_current(conn: Connection) -> None:
    """Raise SchemaProblem unless the schema is at this code's revision: a reader never creates or upgrades one."""
    revision, version = stored(conn)
    if revision != head():
        where = f"at {described(revision, version)}" if revision or version else "empty"
        raise SchemaProblem(f"the database is {where} and this version needs revision {head()}: {RUN_MIGRATE}")
