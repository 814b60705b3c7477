"""Drop compute_hosts.generation.

Every row lock of a compute host bumped it and nothing ever read it: the
lock is the UPDATE itself, whatever it sets.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # A plain column: SQLite (3.35 and later) drops it in place, without
    # rebuilding the table that aggregate_hosts refers to.
    op.drop_column('compute_hosts', 'generation')
