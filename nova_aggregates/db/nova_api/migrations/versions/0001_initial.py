"""nova_api store: the compute host registry and the state of aggregates,
beside Nova's aggregate tables (which are Nova's, and not touched).

Revision ID: n0001
Revises:
Create Date: 2026-12-08
"""

from alembic import op
import sqlalchemy as sa

from nova_aggregates.db.migrations import columns

revision = 'n0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect
    op.create_table(
        'compute_hosts',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('name', columns.exact_name(dialect), nullable=False),
        sa.Column('zone', sa.String(255), nullable=True),
        sa.Column('hypervisor_url', sa.String(1024), nullable=True),
        sa.Column('created_at', columns.timestamp(), nullable=False),
        sa.Column('updated_at', columns.timestamp(), nullable=True),
        sa.UniqueConstraint('name', name='uniq_compute_hosts0name'),
        **columns.TABLE_ARGS)
    op.create_table(
        'nova_aggregates_aggregate_state',
        sa.Column('aggregate_id', sa.Integer, primary_key=True,
                  autoincrement=False),
        sa.Column('aggregate_uuid', sa.String(36), nullable=False),
        sa.Column('operational_state', sa.String(16), nullable=False),
        sa.Column('last_error', sa.Text, nullable=True),
        sa.Column('pending_host', columns.exact_name(dialect), nullable=True),
        sa.Column('task_owner', sa.String(255), nullable=True),
        sa.Column('task_started_at', columns.timestamp(), nullable=True),
        **columns.TABLE_ARGS)
    op.create_index('nova_aggregates_aggregate_state_pending_host_idx',
                    'nova_aggregates_aggregate_state', ['pending_host'])
