"""The schema's Alembic revisions (`versions/`), run by bot/storage/schema_revision.py on a connection it holds: no alembic.ini."""
