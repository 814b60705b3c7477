"""MySQL/MariaDB: names, hosts and metadata compare exactly.

0001 gave these columns ``utf8mb4_bin``, which ignores trailing spaces
(``'k'`` and ``'k '`` collide in a unique key, and a delete of one removes
the other).  Use the binary NO PAD collation instead, as SQLite and
PostgreSQL compare.  Nothing to do on other backends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# (table, column, nullable)
_COLUMNS = (
    ('compute_hosts', 'name', False),
    ('aggregates', 'name', False),
    ('aggregates', 'pending_host', True),
    ('aggregate_hosts', 'host', False),
    ('aggregate_metadata', 'key', False),
    ('aggregate_metadata', 'value', False),
)


def _exact_collation(dialect):
    if getattr(dialect, 'is_mariadb', False):
        return 'utf8mb4_nopad_bin'
    if (dialect.server_version_info or (8, 0)) >= (8, 0):
        return 'utf8mb4_0900_bin'
    return 'utf8mb4_bin'


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name not in ('mysql', 'mariadb'):
        return
    collation = _exact_collation(bind.dialect)
    if collation == 'utf8mb4_bin':
        return
    # aggregate_hosts.host references compute_hosts.name: both sides of a
    # foreign key must share a collation, so drop it while they change.
    host_fks = [fk for fk in sa.inspect(bind).get_foreign_keys(
        'aggregate_hosts') if fk['referred_table'] == 'compute_hosts']
    for fk in host_fks:
        op.drop_constraint(fk['name'], 'aggregate_hosts', type_='foreignkey')
    for table, column, nullable in _COLUMNS:
        op.alter_column(
            table, column, nullable=nullable, existing_nullable=nullable,
            type_=mysql.VARCHAR(255, charset='utf8mb4', collation=collation))
    for fk in host_fks:
        op.create_foreign_key(fk['name'], 'aggregate_hosts', 'compute_hosts',
                              ['host'], ['name'])
