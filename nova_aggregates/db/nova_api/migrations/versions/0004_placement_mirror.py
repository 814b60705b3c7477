"""nova_api store: placement_mirror_steps, aggregate memberships Placement
may not show yet.

Revision ID: n0004
Revises: n0003
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import placement_mirror

revision = 'n0004'
down_revision = 'n0003'
branch_labels = None
depends_on = None


def upgrade():
    placement_mirror.upgrade()
