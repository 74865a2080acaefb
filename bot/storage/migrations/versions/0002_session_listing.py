"""Keep each session as the session list shows it, so that a listing reads rows, not events; index a therapist's newest.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create `session_listing` (bot/storage/schema.py), and index sessions by therapist and time for the list's page.

    A session without its row is judged when first listed.
    """
    op.create_table(
        "session_listing",
        sa.Column("session_id", sa.String(40), primary_key=True),
        sa.Column("therapist_id", sa.String(64), nullable=False),
        sa.Column("client_code", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(32)),
        sa.Column("ended_at", sa.String(32)),
        sa.Column("profiles", sa.String(64), nullable=False),
        sa.Column("judged_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_sessions_listed", "sessions", ["therapist_id", "created_at"])
