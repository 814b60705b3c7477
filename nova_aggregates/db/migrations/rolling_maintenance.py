"""The schema step of rolling maintenance, the same in both stores' chains
(own 0006, nova_api n0003): the task tables, and TaskFlow's persistence
tables as this TaskFlow release defines them (its own alembic chain needs
the default version table, which our own chain uses; a TaskFlow release
that changes them needs a migration of ours)."""

from alembic import op
import sqlalchemy as sa
from taskflow.persistence.backends.sqlalchemy import tables as taskflow_schema

from nova_aggregates.db.migrations import columns


def upgrade():
    bind = op.get_bind()
    op.create_table(
        'rolling_maintenance_tasks',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('aggregate_id', sa.Integer, nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('host_action', sa.String(16), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        sa.Column('heartbeat_at', columns.timestamp(), nullable=True),
        sa.Column('logbook_uuid', sa.String(64), nullable=True),
        sa.Column('flow_uuid', sa.String(64), nullable=True),
        sa.Column('created_at', columns.timestamp(), nullable=False),
        sa.Column('updated_at', columns.timestamp(), nullable=True),
        **columns.TABLE_ARGS)
    op.create_index('rolling_maintenance_tasks_aggregate_idx',
                    'rolling_maintenance_tasks', ['aggregate_id'])
    op.create_index('rolling_maintenance_tasks_state_idx',
                    'rolling_maintenance_tasks', ['state'])
    op.create_table(
        'rolling_maintenance_hosts',
        sa.Column('task_id', sa.Integer, sa.ForeignKey(
            'rolling_maintenance_tasks.id', ondelete='CASCADE'),
            primary_key=True),
        sa.Column('position', sa.Integer, primary_key=True,
                  autoincrement=False),
        sa.Column('host', columns.exact_name(bind.dialect), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('step', sa.String(16), nullable=True),
        sa.Column('started_at', columns.timestamp(), nullable=True),
        sa.Column('finished_at', columns.timestamp(), nullable=True),
        sa.Column('guests_moved', sa.Integer, nullable=False,
                  server_default='0'),
        sa.Column('message', sa.Text, nullable=True),
        **columns.TABLE_ARGS)
    metadata = sa.MetaData()
    taskflow_schema.fetch(metadata)
    metadata.create_all(bind=bind)
