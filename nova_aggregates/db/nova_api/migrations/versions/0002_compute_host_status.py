"""nova_api store, compute_hosts: status, disabled_reason, maintenance and
the lease of a status change; guest_origins, where evacuated guests came
from.

Revision ID: n0002
Revises: n0001
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import compute_host_status

revision = 'n0002'
down_revision = 'n0001'
branch_labels = None
depends_on = None


def upgrade():
    compute_host_status.upgrade()
