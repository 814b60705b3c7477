"""nova_api store: the compute host registry and the state of aggregates,
beside Nova's aggregate tables (which are Nova's, and not touched).

Revision ID: n0001
Revises:
Create Date: 2026-12-08
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = 'n0001'
down_revision = None
branch_labels = None
depends_on = None

_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _exact_collation(dialect):
    # As the own store's migration 0002: binary and NO PAD where the server
    # has such a collation.
    if getattr(dialect, 'is_mariadb', False):
        return 'utf8mb4_nopad_bin'
    if (dialect.server_version_info or (8, 0)) >= (8, 0):
        return 'utf8mb4_0900_bin'
    return 'utf8mb4_bin'


def _name(dialect):
    return sa.String(255).with_variant(
        mysql.VARCHAR(255, charset='utf8mb4',
                      collation=_exact_collation(dialect)),
        'mysql', 'mariadb')


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade():
    dialect = op.get_bind().dialect
    op.create_table(
        'compute_hosts',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('name', _name(dialect), nullable=False),
        sa.Column('zone', sa.String(255), nullable=True),
        sa.Column('hypervisor_url', sa.String(1024), nullable=True),
        sa.Column('created_at', _timestamp(), nullable=False),
        sa.Column('updated_at', _timestamp(), nullable=True),
        sa.UniqueConstraint('name', name='uniq_compute_hosts0name'),
        **_TABLE_ARGS)
    op.create_table(
        'nova_aggregates_aggregate_state',
        sa.Column('aggregate_id', sa.Integer, primary_key=True,
                  autoincrement=False),
        sa.Column('aggregate_uuid', sa.String(36), nullable=False),
        sa.Column('operational_state', sa.String(16), nullable=False),
        sa.Column('last_error', sa.Text, nullable=True),
        sa.Column('pending_host', _name(dialect), nullable=True),
        sa.Column('task_owner', sa.String(255), nullable=True),
        sa.Column('task_started_at', _timestamp(), nullable=True),
        **_TABLE_ARGS)
    op.create_index('nova_aggregates_aggregate_state_pending_host_idx',
                    'nova_aggregates_aggregate_state', ['pending_host'])
