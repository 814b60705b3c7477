"""Index aggregates.pending_host.

add_host checks whether another pool aggregate is adding the same host
right now (``pending_host``); without an index that check scans every
aggregate.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('aggregates_pending_host_idx', 'aggregates',
                    ['pending_host'])
