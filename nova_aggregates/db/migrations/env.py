"""Alembic environment: runs on the connection handed in by db/migration.py."""

from alembic import context

from nova_aggregates.db import models

target_metadata = models.Base.metadata


def run_migrations_online():
    connection = context.config.attributes.get('connection')
    if connection is None:
        raise RuntimeError('Run migrations through nova-aggregates-manage '
                           'db sync; it provides the database connection.')
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError('Offline (SQL script) migrations are not supported.')
run_migrations_online()
