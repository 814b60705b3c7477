"""Column types the migrations of both stores' chains create, frozen here
(not imported from ``models``, whose types may change after a migration
was written)."""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

#: The table options of every table we create.
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def timestamp():
    """A UTC time with microseconds (MySQL's DATETIME drops them unless
    fsp=6)."""
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


def exact_name(dialect, length=255):
    """A name that compares exactly, as compute_hosts.name does: on
    MySQL/MariaDB binary and NO PAD where the server has such a collation
    (own migration 0002)."""
    if dialect.name in ('mysql', 'mariadb'):
        if getattr(dialect, 'is_mariadb', False):
            collation = 'utf8mb4_nopad_bin'
        elif (dialect.server_version_info or (8, 0)) >= (8, 0):
            collation = 'utf8mb4_0900_bin'
        else:
            collation = 'utf8mb4_bin'
        return mysql.VARCHAR(length, charset='utf8mb4', collation=collation)
    return sa.String(length)
