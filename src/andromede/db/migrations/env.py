"""Alembic environment: runs migrations on the connection :mod:`andromede.db.migrate` passes in.

There is no alembic.ini at run time: the Config is built in code and the connection arrives in
``config.attributes["connection"]``. ``render_as_batch`` lets later revisions alter SQLite tables
(SQLite rebuilds a table to alter it; Alembic's batch mode does that for us).
"""

from __future__ import annotations

from alembic import context

from andromede.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through andromede.db.migrate, which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
