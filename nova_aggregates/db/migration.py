"""Schema migrations (alembic), run by ``nova-aggregates-manage db sync``.

Each aggregate store has its chain:

* ``own``: ``migrations/``, all of the service's tables, version table
  ``alembic_version``;
* ``nova_api``: ``nova_api/migrations/``, only the tables this service adds
  to Nova's API database, version table ``nova_aggregates_alembic_version``
  (Nova's own migrations use ``alembic_version`` there).  Nova's tables
  must exist already (``nova-manage api_db sync``); they are checked, never
  created or changed.
"""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration
import sqlalchemy as sa

from nova_aggregates.conf import database as db_conf
from nova_aggregates.db import api as db_api
from nova_aggregates.db import engine as db_engine
from nova_aggregates.db.nova_api import models as nova_models
from nova_aggregates import exception

_HERE = os.path.dirname(os.path.abspath(__file__))
_MIGRATIONS_DIR = os.path.join(_HERE, 'migrations')
_NOVA_API_MIGRATIONS_DIR = os.path.join(_HERE, 'nova_api', 'migrations')
#: Columns of the own store's ``aggregates`` that Nova's has not.
_OWN_AGGREGATE_COLUMNS = frozenset(('operational_state', 'pending_host'))


def _alembic_config(connection, store):
    config = alembic_config.Config()
    config.set_main_option('script_location', _NOVA_API_MIGRATIONS_DIR
                           if store == db_conf.NOVA_API else _MIGRATIONS_DIR)
    config.attributes['connection'] = connection
    return config


def _columns(inspector, table):
    return {column['name'] for column in inspector.get_columns(table)}


def _check_nova_schema(connection):
    """Nova's aggregate tables must be there, Nova's and not ours."""
    inspector = sa.inspect(connection)
    tables = set(inspector.get_table_names())
    missing = sorted(set(nova_models.NOVA_COLUMNS) - tables)
    if missing:
        raise exception.SchemaMismatch(reason=(
            "[database] aggregate_store = nova_api, but Nova's API database "
            "tables %s are missing: point [database] connection at the "
            "database of Nova's [api_database] connection, and run "
            "nova-manage api_db sync first" % ', '.join(missing)))
    if _OWN_AGGREGATE_COLUMNS <= _columns(inspector, 'aggregates'):
        raise exception.SchemaMismatch(reason=(
            '[database] aggregate_store = nova_api, but [database] '
            'connection names a database of the own store (its aggregates '
            "table has operational_state), not Nova's API database"))
    for table, wanted in sorted(nova_models.NOVA_COLUMNS.items()):
        lacking = sorted(wanted - _columns(inspector, table))
        if lacking:
            raise exception.SchemaMismatch(reason=(
                "table %s of Nova's API database lacks the columns %s: "
                'is it a Nova API database, synced by nova-manage api_db '
                'sync?' % (table, ', '.join(lacking))))


def _check_own_schema(connection):
    """Nova's API database is not a database for the own store."""
    inspector = sa.inspect(connection)
    if 'aggregates' in inspector.get_table_names() and \
            not _OWN_AGGREGATE_COLUMNS <= _columns(inspector, 'aggregates'):
        raise exception.SchemaMismatch(reason=(
            "[database] connection names Nova's API database (its "
            'aggregates table is Nova\'s): set [database] aggregate_store '
            '= nova_api to keep aggregates there'))


def db_sync(engine=None, revision='head', store=None):
    """Upgrade the tables of ``store`` (default: the configured one) to
    ``revision`` (default: the newest)."""
    engine = engine or db_api.get_engine()
    store = store or db_engine.store()
    with engine.begin() as connection:
        if store == db_conf.NOVA_API:
            _check_nova_schema(connection)
        else:
            _check_own_schema(connection)
        alembic_command.upgrade(_alembic_config(connection, store), revision)


def db_version(engine=None, store=None):
    """The revision of the tables of ``store``; None before any sync."""
    engine = engine or db_api.get_engine()
    store = store or db_engine.store()
    opts = {'version_table': nova_models.VERSION_TABLE} \
        if store == db_conf.NOVA_API else {}
    with engine.connect() as connection:
        return alembic_migration.MigrationContext.configure(
            connection, opts=opts).get_current_revision()
