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


def upgrade() -> None:
    """Create every table of schema_version 9, and say so there: the upgrades from before Alembic then never run on it."""
    # schema.py still describes version 9 exactly (tests/bot/storage/test_migrations.py checks it against
    # what that release made); a revision that changes one of these tables gives this one its version-9 copy.
    metadata.create_all(op.get_bind())
    op.execute(schema_version.insert().values(version=9))
