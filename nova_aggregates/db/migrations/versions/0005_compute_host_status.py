"""compute_hosts: status, disabled_reason, maintenance and the lease of a
status change; guest_origins, where evacuated guests came from.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import compute_host_status

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    compute_host_status.upgrade()
