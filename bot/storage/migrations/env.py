"""Alembic's environment: run the revisions on the connection handed over in the config, SQLite in batch mode."""
from alembic import context

from bot.storage.schema import metadata

# The caller (bot/storage/schema_revision.py) holds the connection, its transaction and the lock around it.
context.configure(connection=context.config.attributes["connection"], target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
