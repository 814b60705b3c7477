"""The schema step of Placement mirroring, the same in both stores' chains
(own 0007, nova_api n0004): the mirror steps Placement may not show yet."""

from alembic import op
import sqlalchemy as sa

from nova_aggregates.db.migrations import columns


def upgrade():
    bind = op.get_bind()
    op.create_table(
        'placement_mirror_steps',
        sa.Column('aggregate_uuid', sa.String(36), primary_key=True),
        sa.Column('host', columns.exact_name(bind.dialect), primary_key=True),
        sa.Column('aggregate_id', sa.Integer, nullable=False),
        sa.Column('version', sa.Integer, nullable=False),
        sa.Column('queued_at', columns.timestamp(), nullable=False),
        sa.Column('next_attempt_at', columns.timestamp(), nullable=False),
        sa.Column('attempts', sa.Integer, nullable=False,
                  server_default='0'),
        sa.Column('last_error', sa.Text, nullable=True),
        **columns.TABLE_ARGS)
    op.create_index('placement_mirror_steps_due_idx',
                    'placement_mirror_steps', ['next_attempt_at'])
