"""placement_mirror_steps: aggregate memberships Placement may not show
yet.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import placement_mirror

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    placement_mirror.upgrade()
