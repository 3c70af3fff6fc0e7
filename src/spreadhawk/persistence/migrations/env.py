"""Alembic's entry point for the run store, loaded by every ``alembic.command`` that
``spreadhawk.persistence.migrate`` runs.

It gets an open connection, already inside the migration's transaction and lock
(``config.attributes["connection"]``), and never a URL: nothing here connects or commits. Offline
mode (``--sql``) is not supported: the baseline creates its tables through that connection.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from spreadhawk.persistence.migrate import context_options, owned_tables
from spreadhawk.persistence.models import Base

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or not isinstance(connection, Connection):
    raise RuntimeError(
        "the run store's migrations run through spreadhawk (`spreadhawk db upgrade`, or "
        "spreadhawk.persistence.migrate.alembic_config(connection)), which hands them an open connection"
    )
# target_metadata is what autogenerate compares the database with when writing a new revision.
context.configure(connection=connection, target_metadata=Base.metadata, **context_options(owned_tables()))
with context.begin_transaction():  # a no-op: the transaction is migrate's (committed after the checks)
    context.run_migrations()
