"""nova_api store: rolling_maintenance_tasks and rolling_maintenance_hosts;
TaskFlow's persistence tables (logbooks, flowdetails, atomdetails).

Revision ID: n0003
Revises: n0002
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import rolling_maintenance

revision = 'n0003'
down_revision = 'n0002'
branch_labels = None
depends_on = None


def upgrade():
    rolling_maintenance.upgrade()
