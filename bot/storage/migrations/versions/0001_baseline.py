"""The baseline: the schema as the last release before Alembic left it (schema_version 9).

Revision ID: 0001
Revises:
"""
from alembic import op
from sqlalchemy import Column, Index, MetaData, String, Table, UniqueConstraint

from bot.storage.schema import metadata, schema_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The tables of schema_version 9, and only those: a later revision's table is made by that revision. Those that
# schema.py describes as version 9 made them are taken from it; the others are frozen here as version 9 had them.
VERSION_9 = (
    "schema_version", "events", "notices", "notes", "due_work", "checklist_ticks", "deliveries", "passwords",
    "sign_in_failures", "page_sign_ins", "sign_in_locks", "client_profiles", "client_meetings", "session_clients",
    "platform_subscriptions", "key_checks", "bot_calls", "stream_tickets",
)


frozen = MetaData()
# Revision 0002 gives it a second index, for the session list.
sessions = Table(
    "sessions",
    frozen,
    Column("id", String(40), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("occurrence_id", String(255), nullable=False),
    Column("meeting_id", String(64), nullable=False, default=""),
    Column("host_id", String(255), nullable=False, default=""),
    Column("therapist_id", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("platform", "occurrence_id", name="uq_sessions_occurrence"),
    Index("ix_sessions_therapist", "therapist_id"),
)


def upgrade() -> None:
    """Create every table of schema_version 9, and say so there: the upgrades from before Alembic then never run on it."""
    # tests/bot/storage/test_migrations.py checks what this makes against what that release made; a revision that
    # changes one of schema.py's tables gives this one its version-9 copy, as 0002 did for `sessions`.
    frozen.create_all(op.get_bind())
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in VERSION_9])
    op.execute(schema_version.insert().values(version=9))
