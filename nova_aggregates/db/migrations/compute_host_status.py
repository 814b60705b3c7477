"""The schema step of host status and maintenance, the same in both
stores' chains (own 0005, nova_api n0002): compute_hosts gains status,
disabled_reason, maintenance and the lease of a status change;
guest_origins records where evacuated guests came from."""

from alembic import op
import sqlalchemy as sa

from nova_aggregates.db.migrations import columns


def upgrade():
    # Plain columns with server defaults: existing hosts are enabled and
    # out of maintenance, and SQLite adds them in place.
    op.add_column('compute_hosts', sa.Column(
        'status', sa.String(16), nullable=False, server_default='enabled'))
    op.add_column('compute_hosts', sa.Column(
        'disabled_reason', sa.String(255), nullable=True))
    op.add_column('compute_hosts', sa.Column(
        'maintenance', sa.String(16), nullable=False,
        server_default='off_maintenance'))
    op.add_column('compute_hosts', sa.Column(
        'task_owner', sa.String(255), nullable=True))
    op.add_column('compute_hosts', sa.Column(
        'task_started_at', columns.timestamp(), nullable=True))

    name = columns.exact_name(op.get_bind().dialect)
    op.create_table(
        'guest_origins',
        sa.Column('vm_uuid', sa.String(36), primary_key=True),
        sa.Column('vm_name', sa.String(255), nullable=True),
        sa.Column('memory', sa.BigInteger, nullable=False),
        sa.Column('origin', name, nullable=False),
        sa.Column('moved_to', name, nullable=False),
        sa.Column('moved_at', columns.timestamp(), nullable=False),
        **columns.TABLE_ARGS)
    op.create_index('guest_origins_origin_idx', 'guest_origins', ['origin'])
