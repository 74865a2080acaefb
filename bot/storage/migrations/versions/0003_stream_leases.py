"""Lease each meeting's RTMS stream to one instance at a time, so that several instances share one database.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `stream_leases` (bot/storage/schema.py): a stream open when the upgrade runs is taken by the first instance to look."""
    op.create_table(
        "stream_leases",
        sa.Column("session_id", sa.String(40), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
