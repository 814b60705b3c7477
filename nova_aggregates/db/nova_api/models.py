"""Tables of the nova_api store.

``NOVA``: Nova's three aggregate tables, declared as Nova's API database
migration (``d67eeaabee36_initial_version``) creates them, on a MetaData of
their own.  They are here to build statements: this service never creates,
alters or migrates them.  What their schema implies:

* no ``ON DELETE CASCADE``: an aggregate's hosts and metadata are deleted
  before it;
* ``aggregate_hosts`` is indexed by ``(host, aggregate_id)`` (its unique
  key) and not by ``aggregate_id`` alone; ``aggregate_metadata`` by
  ``(aggregate_id, key)`` and by ``key``;
* every column but ``id`` is nullable except the metadata's key, value and
  aggregate_id, and the hosts' aggregate_id;
* the strings use the database's default collation and, on MySQL/MariaDB,
  the ``utf8`` (three bytes a character) charset: names, hosts and keys
  compare case-insensitively there, and a character outside the BMP cannot
  be stored (``nova_strings``);
* ``DATETIME`` without fractional seconds on MySQL/MariaDB
  (``NovaDateTime``);
* ``aggregates.id`` is a plain integer key: SQLite (and MySQL before 8.0,
  after a restart) may hand out the id of the last deleted aggregate again.

``OURS``: this service's tables in Nova's API database, created by
``migrations/`` (whose version table is ``nova_aggregates_alembic_version``;
Nova's is ``alembic_version``):

* ``compute_hosts``: the compute host registry, the same table as in the
  own store (Nova's API database has none of that name);
* ``nova_aggregates_aggregate_state``: the state of an aggregate that Nova's
  schema has no column for, keyed by the aggregate's id, with no foreign key
  (Nova deletes aggregates without knowing of it).  A row counts only while
  its ``aggregate_uuid`` is the aggregate's uuid (``''`` for an aggregate
  without one): a row left by an aggregate that Nova deleted, whose id was
  handed out again, is ignored, and replaced on the next state write.  An
  aggregate without a row (created by Nova, or by us and never changed
  since) is ``created`` while it has no hosts, ``active`` once it has.
"""

import contextlib

from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from nova_aggregates.db import models
from nova_aggregates import exception

_MYSQL = ('mysql', 'mariadb')

NOVA = sa.MetaData()
OURS = sa.MetaData()


def stored_time(dialect, value):
    """``value`` as a DATETIME column of Nova's stores it on ``dialect``."""
    if value is not None and dialect.name in _MYSQL:
        return value.replace(microsecond=0)
    return value


class NovaDateTime(sa.types.TypeDecorator):
    """Nova's ``DATETIME``: whole seconds on MySQL/MariaDB, which would round
    (MySQL) or truncate (MariaDB) the fraction.  Written as whole seconds
    there, so that what a write returns is what a read finds."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return stored_time(dialect, value)


@contextlib.contextmanager
def nova_strings():
    """Writes of names, hosts and metadata into Nova's columns: a value that
    they cannot hold (on MySQL/MariaDB, a character of four UTF-8 bytes) is
    an invalid request, not a server error."""
    try:
        yield
    except db_exc.DBError as exc:
        # PyMySQL reports "Incorrect string value" as a DataError, which
        # oslo.db leaves a plain DBError.
        if not isinstance(exc, db_exc.DBDataError) and not isinstance(
                getattr(exc, 'inner_exception', None), sa.exc.DataError):
            raise
        raise exception.Invalid(
            reason="the value cannot be stored in Nova's API database, "
                   "whose aggregate columns hold 255 characters of the "
                   "database's charset (on MySQL/MariaDB: utf8, without "
                   "characters outside the Basic Multilingual Plane such as "
                   "emoji)")


_NOVA_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8'}

aggregates = sa.Table(
    'aggregates', NOVA,
    sa.Column('created_at', NovaDateTime),
    sa.Column('updated_at', NovaDateTime),
    sa.Column('id', sa.Integer, primary_key=True),
    sa.Column('uuid', sa.String(36)),
    sa.Column('name', sa.String(255)),
    sa.Index('aggregate_uuid_idx', 'uuid'),
    sa.UniqueConstraint('name', name='uniq_aggregate0name'),
    **_NOVA_TABLE_ARGS)

aggregate_hosts = sa.Table(
    'aggregate_hosts', NOVA,
    sa.Column('created_at', NovaDateTime),
    sa.Column('updated_at', NovaDateTime),
    sa.Column('id', sa.Integer, primary_key=True),
    sa.Column('host', sa.String(255)),
    sa.Column('aggregate_id', sa.Integer, sa.ForeignKey('aggregates.id'),
              nullable=False),
    sa.UniqueConstraint('host', 'aggregate_id',
                        name='uniq_aggregate_hosts0host0aggregate_id'),
    **_NOVA_TABLE_ARGS)

aggregate_metadata = sa.Table(
    'aggregate_metadata', NOVA,
    sa.Column('created_at', NovaDateTime),
    sa.Column('updated_at', NovaDateTime),
    sa.Column('id', sa.Integer, primary_key=True),
    sa.Column('aggregate_id', sa.Integer, sa.ForeignKey('aggregates.id'),
              nullable=False),
    sa.Column('key', sa.String(255), nullable=False),
    sa.Column('value', sa.String(255), nullable=False),
    sa.UniqueConstraint('aggregate_id', 'key',
                        name='uniq_aggregate_metadata0aggregate_id0key'),
    sa.Index('aggregate_metadata_key_idx', 'key'),
    **_NOVA_TABLE_ARGS)

#: What ``db sync`` requires of Nova's tables: {table: columns}.
NOVA_COLUMNS = {table.name: frozenset(table.c.keys())
                for table in (aggregates, aggregate_hosts, aggregate_metadata)}


def _timestamp():
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), *_MYSQL)


STATE_TABLE = 'nova_aggregates_aggregate_state'
#: Alembic's version table of ``migrations/``.
VERSION_TABLE = 'nova_aggregates_alembic_version'

aggregate_state = sa.Table(
    STATE_TABLE, OURS,
    sa.Column('aggregate_id', sa.Integer, primary_key=True,
              autoincrement=False),
    sa.Column('aggregate_uuid', sa.String(36), nullable=False),
    # created | changing | active | error (nova_aggregates/constants.py)
    sa.Column('operational_state', sa.String(16), nullable=False),
    sa.Column('last_error', sa.Text, nullable=True),
    sa.Column('pending_host', models.ExactString(255), nullable=True),
    sa.Column('task_owner', sa.String(255), nullable=True),
    sa.Column('task_started_at', _timestamp(), nullable=True),
    # add_host asks which pool is adding a host right now.
    sa.Index('nova_aggregates_aggregate_state_pending_host_idx',
             'pending_host'),
    mysql_engine='InnoDB', mysql_charset='utf8mb4')

#: The own store's table: the same shape, and the same statements
#: (``db/compute_hosts.py``) serve both stores.
compute_hosts = models.compute_hosts.to_metadata(OURS)
guest_origins = models.guest_origins.to_metadata(OURS)
rolling_maintenance_tasks = models.rolling_maintenance_tasks.to_metadata(OURS)
rolling_maintenance_hosts = models.rolling_maintenance_hosts.to_metadata(OURS)
placement_mirror_steps = models.placement_mirror_steps.to_metadata(OURS)
#: TaskFlow's persistence tables, as in the own store.
taskflow_tables = tuple(table.to_metadata(OURS)
                        for table in models.taskflow_tables)

#: The state columns, in the order of the aggregate dicts.
STATE_COLUMNS = ('operational_state', 'last_error', 'pending_host',
                 'task_owner', 'task_started_at')
