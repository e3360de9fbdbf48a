"""Alembic environment of the mirrorvr catalogue.

Run by :func:`mirrorvr.catalog.migrate.upgrade` / ``downgrade`` with an open connection in
``config.attributes["connection"]``; it never reads an ``alembic.ini``.
"""

from alembic import context

from mirrorvr.catalog.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
