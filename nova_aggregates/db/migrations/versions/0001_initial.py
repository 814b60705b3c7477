"""Initial schema: aggregates, their hosts and metadata, compute hosts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def _name(length=255):
    return sa.String(length).with_variant(
        mysql.VARCHAR(length, charset='utf8mb4', collation='utf8mb4_bin'),
        'mysql', 'mariadb')


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def upgrade():
    op.create_table(
        'compute_hosts',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('name', _name(), nullable=False),
        sa.Column('zone', sa.String(255), nullable=True),
        sa.Column('hypervisor_url', sa.String(1024), nullable=True),
        sa.Column('generation', sa.Integer, nullable=False),
        sa.Column('created_at', _timestamp(), nullable=False),
        sa.Column('updated_at', _timestamp(), nullable=True),
        sa.UniqueConstraint('name', name='uniq_compute_hosts0name'),
        **_TABLE_ARGS)
    op.create_table(
        'aggregates',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('name', _name(), nullable=False),
        sa.Column('operational_state', sa.String(16), nullable=False),
        sa.Column('last_error', sa.Text, nullable=True),
        sa.Column('pending_host', _name(), nullable=True),
        sa.Column('task_owner', sa.String(255), nullable=True),
        sa.Column('task_started_at', _timestamp(), nullable=True),
        sa.Column('created_at', _timestamp(), nullable=False),
        sa.Column('updated_at', _timestamp(), nullable=True),
        sa.UniqueConstraint('name', name='uniq_aggregates0name'),
        sa.UniqueConstraint('uuid', name='uniq_aggregates0uuid'),
        sqlite_autoincrement=True, **_TABLE_ARGS)
    op.create_table(
        'aggregate_hosts',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('aggregate_id', sa.Integer,
                  sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('host', _name(), sa.ForeignKey('compute_hosts.name'),
                  nullable=False),
        sa.Column('created_at', _timestamp(), nullable=False),
        sa.UniqueConstraint('aggregate_id', 'host',
                            name='uniq_aggregate_hosts0aggregate_id0host'),
        **_TABLE_ARGS)
    op.create_index('aggregate_hosts_host_idx', 'aggregate_hosts', ['host'])
    op.create_table(
        'aggregate_metadata',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('aggregate_id', sa.Integer,
                  sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('key', _name(), nullable=False),
        sa.Column('value', _name(), nullable=False),
        sa.UniqueConstraint('aggregate_id', 'key',
                            name='uniq_aggregate_metadata0aggregate_id0key'),
        **_TABLE_ARGS)
