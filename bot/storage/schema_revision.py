"""Bring a database to this code's schema revision (Alembic), or check that it is there; refuse one newer than the code."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from .at_rest import AtRest
from .upgrades import UPGRADES, stored_version, upgrade

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
    return ScriptDirectory(str(MIGRATIONS))


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
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is not None and revision not in {script.revision for script in _scripts().walk_revisions()}:
        raise _refused(f"revision {revision}")
    return revision, version


def migrate(conn: Connection, at_rest: AtRest) -> Migration:
    """Bring the schema to the newest revision in the caller's transaction; a database from before Alembic is brought to
    schema_version 9 by its own upgrades first (one of them rewrites rows with the keys), then stamped at the baseline."""
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
