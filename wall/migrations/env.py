"""Alembic's entry point for Story Wall's migrations.

Migrations run inside `Database.upgrade()`, on a connection that already holds
the database's write lock (SQLite's BEGIN IMMEDIATE, or PostgreSQL's advisory
lock), so two servers upgrading at once take turns and the second finds
nothing left to do. There is no alembic.ini: `storywall db upgrade` is the way in.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    # SQLite alters a table by copying it; Alembic's batch mode does that for us.
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
