"""nova_api store, compute_hosts: status, disabled_reason, maintenance and
the lease of a status change; guest_origins, where evacuated guests came
from.

Revision ID: n0002
Revises: n0001
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'n0002'
down_revision = 'n0001'
branch_labels = None
depends_on = None


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def _name(dialect):
    # Host names compare exactly, as compute_hosts.name does.
    if dialect.name in ('mysql', 'mariadb'):
        if getattr(dialect, 'is_mariadb', False):
            collation = 'utf8mb4_nopad_bin'
        elif (dialect.server_version_info or (8, 0)) >= (8, 0):
            collation = 'utf8mb4_0900_bin'
        else:
            collation = 'utf8mb4_bin'
        return mysql.VARCHAR(255, charset='utf8mb4', collation=collation)
    return sa.String(255)


def upgrade():
    # Plain columns with server defaults: existing hosts are enabled and
    # out of maintenance, and SQLite adds them in place.
    op.add_column('compute_hosts', sa.Column(
        'status', sa.String(16), nullable=False, server_default='enabled'))
    op.add_column('compute_hosts', sa.Column(
        'disabled_reason', sa.String(255), nullable=True))
    op.add_column('compute_hosts', sa.Column(
        'maintenance', sa.String(16), nullable=False,
        server_default='off_maintenance'))
    op.add_column('compute_hosts', sa.Column(
        'task_owner', sa.String(255), nullable=True))
    op.add_column('compute_hosts', sa.Column(
        'task_started_at', _timestamp(), nullable=True))

    op.create_table(
        'guest_origins',
        sa.Column('vm_uuid', sa.String(36), primary_key=True),
        sa.Column('vm_name', sa.String(255), nullable=True),
        sa.Column('memory', sa.BigInteger, nullable=False),
        sa.Column('origin', _name(op.get_bind().dialect), nullable=False),
        sa.Column('moved_to', _name(op.get_bind().dialect), nullable=False),
        sa.Column('moved_at', _timestamp(), nullable=False),
        mysql_engine='InnoDB', mysql_charset='utf8mb4')
    op.create_index('guest_origins_origin_idx', 'guest_origins', ['origin'])
