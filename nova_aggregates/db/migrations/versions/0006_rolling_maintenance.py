"""rolling_maintenance_tasks and rolling_maintenance_hosts; TaskFlow's
persistence tables (logbooks, flowdetails, atomdetails).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from nova_aggregates.db.migrations import rolling_maintenance

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    rolling_maintenance.upgrade()
