"""Alembic environment of the run-history database (verifier/history/tables.py owns the tables).

Where it sits: `verifier.history.store.Store.upgrade` runs alembic with an open connection in
`config.attributes["connection"]`, inside the transaction that holds the migration lock;
this file only hands that connection to alembic. Offline (SQL script) mode is not used.
"""

from __future__ import annotations

from alembic import context

from verifier.history.tables import METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through `por db upgrade` (verifier.history.store.Store)")
context.configure(
    connection=connection,
    target_metadata=METADATA,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
