"""Alembic environment of the nova_api store's own tables in Nova's API
database; runs on the connection handed in by db/migration.py, with a
version table of its own (Nova's API database keeps ``alembic_version``
for Nova's migrations)."""

from alembic import context

from nova_aggregates.db.nova_api import models


def include_name(name, type_, parent_names):
    # Only our tables: Nova's are Nova's to compare and migrate.
    return type_ != 'table' or name in models.OURS.tables


def run_migrations_online():
    connection = context.config.attributes.get('connection')
    if connection is None:
        raise RuntimeError('Run migrations through nova-aggregates-manage '
                           'db sync; it provides the database connection.')
    context.configure(connection=connection, target_metadata=models.OURS,
                      version_table=models.VERSION_TABLE,
                      include_name=include_name, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError('Offline (SQL script) migrations are not supported.')
run_migrations_online()
