"""The baseline: the schema as the last release before Alembic left it (schema_version 9).

Revision ID: 0001
Revises:
"""
from alembic import op

from bot.storage.schema import metadata, schema_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables of schema_version 9, and only those: a later revision's table is made by that revision.
VERSION_9 = (
    "schema_version", "sessions", "events", "notices", "notes", "due_work", "checklist_ticks", "deliveries", "passwords",
    "sign_in_failures", "page_sign_ins", "sign_in_locks", "client_profiles", "client_meetings", "session_clients",
    "platform_subscriptions", "key_checks", "bot_calls", "stream_tickets",
)


def upgrade() -> None:
    """Create every table of schema_version 9, and say so there: the upgrades from before Alembic then never run on it."""
    # schema.py still describes these tables as version 9 made them (tests/bot/storage/test_migrations.py checks it
    # against what that release made); a revision that changes one of them gives this one its version-9 copy.
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in VERSION_9])
    op.execute(schema_version.insert().values(version=9))
