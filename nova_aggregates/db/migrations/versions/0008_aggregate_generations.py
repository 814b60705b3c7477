"""Aggregate generations and the change counter: what ETags are made of.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa

from nova_aggregates.db.migrations import columns

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (with its default) on every backend: a batch
    # rebuild would drop SQLite's AUTOINCREMENT (ids never handed out again).
    op.add_column('aggregates', sa.Column(
        'generation', sa.Integer, nullable=False, server_default='1'))
    changes = op.create_table(
        'aggregate_changes',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=False),
        sa.Column('counter', sa.BigInteger, nullable=False),
        **columns.TABLE_ARGS)
    op.bulk_insert(changes, [{'id': 1, 'counter': 1}])
