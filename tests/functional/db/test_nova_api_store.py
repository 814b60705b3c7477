"""The nova_api aggregate store (``[database] aggregate_store = nova_api``)
on SQLite, PostgreSQL and MySQL/MariaDB: Nova's aggregate tables as Nova's
migrations create them (tests/support/nova_api_schema.py), our tables from
``db sync``, and the rules of the AggregateManager on top.

"As Nova" below means rows written or read directly in Nova's tables, with
the statements Nova's ``nova/objects/aggregate.py`` runs: what Nova's API,
scheduler and ``nova-manage`` would do and see.
"""

import datetime
import functools
import os
import subprocess
import uuid as uuid_lib

import fixtures
from oslo_db.sqlalchemy import test_migrations
import sqlalchemy as sa

from nova_aggregates import constants
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates.db import models as db_models
from nova_aggregates.db.nova_api import models as store_models
from nova_aggregates import exception
from nova_aggregates import service
from tests.functional import backends
from tests import fixtures as na_fixtures
from tests.support import concurrency
from tests.support import nova_api_schema
from tests.support import process

nova = nova_api_schema
state_table = store_models.aggregate_state

#: The keys of an aggregate as the own store returns it.
#: The newest revision of the nova_api store's own chain.
OUR_HEAD = 'n0004'
TASKFLOW_TABLES = ('logbooks', 'flowdetails', 'atomdetails')
AGGREGATE_KEYS = {'id', 'uuid', 'name', 'operational_state', 'last_error',
                  'pending_host', 'task_owner', 'task_started_at',
                  'created_at', 'updated_at', 'generation', 'hosts',
                  'metadata'}


class NovaAPIDatabaseFixture(na_fixtures.DatabaseFixture):
    """Nova's aggregate tables in a new SQLite file (or in the empty
    database ``connection``), the service configured on the nova_api store
    there, and ``db sync`` run."""

    def _setUp(self):
        if self.connection is None:
            tmp = self.useFixture(fixtures.TempDir()).path
            self.connection = 'sqlite:///' + os.path.join(tmp,
                                                          'nova_api.sqlite')
        engine = sa.create_engine(self.connection, poolclass=sa.pool.NullPool)
        try:
            nova_api_schema.create(engine)
        finally:
            engine.dispose()
        self.conf_fixture.config(connection=self.connection,
                                 aggregate_store='nova_api', group='database')
        service.reset()
        db_api.configure(self.conf_fixture.conf)
        self.addCleanup(service.reset)
        migration.db_sync()
        self.engine = db_api.get_engine()


class NovaAPIServiceMixin(backends.ServiceDatabaseMixin):
    """``use_service`` on the nova_api store, in ``self.database``."""

    def use_service(self, **overrides):
        backends.ensure_conf_parsed()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        for (group, name), value in overrides.items():
            self.conf_fixture.config(**{name: value, 'group': group})
        self.db = self.useFixture(NovaAPIDatabaseFixture(
            self.conf_fixture, connection=self.database.url))
        return self.db


def _add_host_in_a_process(aggregate_id, host, ready, go, results):
    """One process of a race: the service (configured in the parent, before
    the fork) adds ``host`` to ``aggregate_id``; puts 'ok' or the name of
    the exception."""
    try:
        manager = service.get_services().aggregates
        ctx = context.get_admin_context()
        ready.put(True)
    except Exception:  # noqa: B902 - reported to the parent
        ready.put(False)
        raise
    go.wait(60)
    try:
        manager.add_host(ctx, aggregate_id, host)
        results.put('ok')
    except Exception as exc:  # noqa: B902 - reported to the parent
        results.put(type(exc).__name__)


class NovaAPIStoreTests(NovaAPIServiceMixin):
    """Runs on ``self.BACKEND``; see the subclasses at the end."""

    def setUp(self):
        super().setUp()
        self.use_service()
        self.ctx = context.get_admin_context()
        self.services = service.get_services()
        self.manager = self.services.aggregates
        self.hosts = self.services.compute_hosts
        self.engine = self.database.engine()
        for number in range(1, 7):
            self.hosts.register(self.ctx, 'node%d' % number)

    @property
    def mysql(self):
        return self.BACKEND == backends.MYSQL

    # -- as Nova --------------------------------------------------------------

    def nova_create(self, name, zone=None, hosts=(), metadata=None,
                    aggregate_id=None, uuid=True):
        """An aggregate created as Nova's Aggregate.create and add_host
        write it; its id."""
        metadata = dict(metadata or {})
        if zone is not None:
            metadata['availability_zone'] = zone
        now = datetime.datetime.utcnow()
        values = {'name': name, 'created_at': now,
                  'uuid': str(uuid_lib.uuid4()) if uuid else None}
        if aggregate_id is not None:
            values['id'] = aggregate_id
        with self.engine.begin() as conn:
            agg_id = conn.execute(nova.aggregates.insert(),
                                  values).inserted_primary_key[0]
            for key, value in metadata.items():
                conn.execute(nova.aggregate_metadata.insert(), {
                    'aggregate_id': agg_id, 'key': key, 'value': value,
                    'created_at': now})
            for host in hosts:
                conn.execute(nova.aggregate_hosts.insert(), {
                    'aggregate_id': agg_id, 'host': host, 'created_at': now})
        return agg_id

    def nova_delete(self, aggregate_id):
        """Delete as Nova's API does (it refuses while there are hosts, so
        none are left; metadata first, then the aggregate)."""
        with self.engine.begin() as conn:
            conn.execute(nova.aggregate_hosts.delete().where(
                nova.aggregate_hosts.c.aggregate_id == aggregate_id))
            conn.execute(nova.aggregate_metadata.delete().where(
                nova.aggregate_metadata.c.aggregate_id == aggregate_id))
            conn.execute(nova.aggregates.delete().where(
                nova.aggregates.c.id == aggregate_id))

    def nova_get_by_host(self, host):
        """What Nova's AggregateList.get_by_host(host) finds:
        ``{name: (hosts, metadata)}``."""
        with self.engine.connect() as conn:
            ids = [row[0] for row in conn.execute(
                sa.select(nova.aggregates.c.id).join(
                    nova.aggregate_hosts, nova.aggregate_hosts.c.aggregate_id
                    == nova.aggregates.c.id).where(
                    nova.aggregate_hosts.c.host == host))]
            found = {}
            for agg_id in ids:
                name = conn.execute(sa.select(nova.aggregates.c.name).where(
                    nova.aggregates.c.id == agg_id)).scalar()
                hosts = [row[0] for row in conn.execute(
                    sa.select(nova.aggregate_hosts.c.host).where(
                        nova.aggregate_hosts.c.aggregate_id == agg_id)
                    .order_by(nova.aggregate_hosts.c.id))]
                metadata = dict(conn.execute(sa.select(
                    nova.aggregate_metadata.c.key,
                    nova.aggregate_metadata.c.value).where(
                    nova.aggregate_metadata.c.aggregate_id == agg_id)).all())
                found[name] = (hosts, metadata)
            return found

    def nova_zone_of(self, host):
        """The availability zone Nova gives ``host``: its aggregates'
        ``availability_zone`` metadata (nova.availability_zones)."""
        zones = {metadata.get('availability_zone') for _, metadata in
                 self.nova_get_by_host(host).values()} - {None}
        return zones

    def rows(self, table, **where):
        query = sa.select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- create, list, show, update, delete -----------------------------------

    def test_backend_is_the_one_under_test(self):
        self.assertEqual({'sqlite': 'sqlite', 'postgresql': 'postgresql',
                          'mysql': 'mysql'}[self.BACKEND],
                         db_api.get_engine().dialect.name)
        self.assertIs(store_models.aggregates, db_api.aggregates)

    def test_lifecycle_is_what_nova_sees(self):
        created = db_api.aggregate_create(self.ctx, 'web',
                                          {'availability_zone': 'az1'})
        self.assertEqual(AGGREGATE_KEYS, set(created))
        # What a write returns is what a read finds (on MySQL, Nova's
        # DATETIME keeps whole seconds).
        self.assertEqual(created, db_api.aggregate_get(self.ctx,
                                                       created['id']))
        agg_id = created['id']
        row, = self.rows(nova.aggregates, id=agg_id)
        self.assertEqual((created['uuid'], 'web'), (row['uuid'], row['name']))
        shown = self.manager.get_aggregate(self.ctx, agg_id)
        self.assertEqual(('web', 'az1', 'created', [], {
            'availability_zone': 'az1'}), (
            shown['name'], shown['availability_zone'],
            shown['operational_state'], shown['hosts'], shown['metadata']))
        self.assertEqual([agg_id], [
            a['id'] for a in self.manager.list_aggregates(self.ctx)])

        self.manager.update_aggregate(self.ctx, agg_id, name='web2',
                                      availability_zone='az2')
        self.manager.add_host(self.ctx, agg_id, 'node1')
        self.manager.add_host(self.ctx, agg_id, 'node2')
        got = self.manager.set_metadata(self.ctx, agg_id,
                                        {'ssd': 'true', 'x': '1'})
        self.assertEqual('active', got['operational_state'])
        self.assertEqual({'web2': (['node1', 'node2'], {
            'availability_zone': 'az2', 'ssd': 'true', 'x': '1'})},
            self.nova_get_by_host('node1'))
        self.assertEqual({'az2'}, self.nova_zone_of('node2'))
        self.manager.set_metadata(self.ctx, agg_id, {'x': None})
        self.manager.remove_host(self.ctx, agg_id, 'node1')
        self.assertEqual({}, self.nova_get_by_host('node1'))
        self.assertEqual({'web2': (['node2'], {
            'availability_zone': 'az2', 'ssd': 'true'})},
            self.nova_get_by_host('node2'))
        listed, = self.manager.list_aggregates(self.ctx)
        self.assertEqual(self.manager.get_aggregate(self.ctx, agg_id), listed)
        self.assertEqual(AGGREGATE_KEYS, set(db_api.aggregate_get_all(
            self.ctx)[0]))

        self.assertRaises(exception.AggregateNotEmpty,
                          self.manager.delete_aggregate, self.ctx, agg_id)
        self.manager.remove_host(self.ctx, agg_id, 'node2')
        self.manager.delete_aggregate(self.ctx, agg_id)
        for table in (nova.aggregate_hosts, nova.aggregate_metadata):
            self.assertEqual([], self.rows(table, aggregate_id=agg_id))
        self.assertEqual([], self.rows(nova.aggregates, id=agg_id))
        self.assertEqual([], self.rows(state_table, aggregate_id=agg_id))
        self.assertRaises(exception.AggregateNotFound,
                          self.manager.get_aggregate, self.ctx, agg_id)
        # Nova's alembic_version is Nova's.
        self.assertEqual([nova.NOVA_API_HEAD], nova.nova_version(self.engine))

    def test_state_lives_in_our_table(self):
        agg = self.manager.create_aggregate(self.ctx, 'a')
        self.assertEqual([], self.rows(state_table))
        self.manager.add_host(self.ctx, agg['id'], 'node1')
        row, = self.rows(state_table)
        self.assertEqual((agg['id'], agg['uuid'], 'active'), (
            row['aggregate_id'], row['aggregate_uuid'],
            row['operational_state']))
        stamp = datetime.datetime(2020, 1, 2, 3, 4, 5, 678901)
        db_api.aggregate_update(self.ctx, agg['id'], operational_state='error',
                                last_error='boom', task_owner='me',
                                task_started_at=stamp)
        got = db_api.aggregate_get(self.ctx, agg['id'])
        self.assertEqual(('error', 'boom', 'me', stamp), (
            got['operational_state'], got['last_error'], got['task_owner'],
            got['task_started_at']))
        self.assertEqual([agg['id']], [a['id'] for a in
                                       db_api.aggregate_get_by_state(
                                           self.ctx, 'error')])

    def test_names_are_unique(self):
        self.manager.create_aggregate(self.ctx, 'a')
        b = self.manager.create_aggregate(self.ctx, 'b')
        self.assertRaises(exception.AggregateNameExists,
                          self.manager.create_aggregate, self.ctx, 'a')
        self.assertRaises(exception.AggregateNameExists,
                          self.manager.update_aggregate, self.ctx, b['id'],
                          name='a')
        self.nova_create('nova-made')
        self.assertRaises(exception.AggregateNameExists,
                          self.manager.create_aggregate, self.ctx,
                          'nova-made')

    def test_nova_collation_applies(self):
        # Nova's columns compare as the database does by default: exactly
        # on SQLite and PostgreSQL, case-insensitively on MySQL/MariaDB,
        # where they also hold only three-byte UTF-8.
        self.manager.create_aggregate(self.ctx, 'rack')
        emoji = 'rack\U0001F600'
        if self.mysql:
            self.assertRaises(exception.AggregateNameExists,
                              self.manager.create_aggregate, self.ctx, 'RACK')
            error = self.assertRaises(exception.Invalid,
                                      self.manager.create_aggregate,
                                      self.ctx, emoji)
            self.assertIn("cannot be stored in Nova's API database",
                          str(error))
        else:
            self.manager.create_aggregate(self.ctx, 'RACK')
            self.assertEqual(emoji, self.manager.create_aggregate(
                self.ctx, emoji)['name'])
        # Hosts: our registry tells NODE1 from node1; Nova's column may not.
        self.hosts.register(self.ctx, 'NODE1')
        one = self.manager.create_aggregate(self.ctx, 'one', 'az1')
        two = self.manager.create_aggregate(self.ctx, 'two', 'az2')
        self.manager.add_host(self.ctx, one['id'], 'NODE1')
        if self.mysql:
            # For Nova's scheduler they are one host, so for the zone rule.
            self.assertRaises(exception.HostZoneConflict,
                              self.manager.add_host, self.ctx, two['id'],
                              'node1')
            self.assertRaises(exception.AggregateHostExists,
                              self.manager.add_host, self.ctx, one['id'],
                              'node1')
            self.assertEqual(['az1'], [a['availability_zone'] for a in
                                       db_api.host_aggregates(
                                           self.ctx, ['node1'])['node1']])
        else:
            self.manager.add_host(self.ctx, two['id'], 'node1')
            self.assertEqual({'node1': ['two'], 'NODE1': ['one']}, {
                host: [a['name'] for a in aggs] for host, aggs in
                db_api.host_aggregates(self.ctx, ['node1', 'NODE1']).items()})

    def test_timestamps(self):
        stamps = [datetime.datetime(2012, 3, 1, 10, 0, 0, 123456),
                  datetime.datetime(2012, 3, 1, 10, 0, 1, 7)]
        self.useFixture(fixtures.MonkeyPatch(
            'nova_aggregates.db.engine.now',
            lambda: stamps.pop(0) if len(stamps) > 1 else stamps[0]))
        agg = self.manager.create_aggregate(self.ctx, 'a')
        got = self.manager.set_metadata(self.ctx, agg['id'], {'k': 'v'})
        fraction = 0 if self.mysql else 1
        self.assertEqual(datetime.datetime(2012, 3, 1, 10, 0, 0,
                                           123456 * fraction),
                         agg['created_at'])
        self.assertEqual(datetime.datetime(2012, 3, 1, 10, 0, 1,
                                           7 * fraction), got['updated_at'])
        self.assertEqual((agg['created_at'], got['updated_at']), tuple(
            self.manager.get_aggregate(self.ctx, agg['id'])[k]
            for k in ('created_at', 'updated_at')))

    # -- rules ----------------------------------------------------------------

    def test_zone_and_host_rules(self):
        one = self.manager.create_aggregate(self.ctx, 'one', 'az1')
        two = self.manager.create_aggregate(self.ctx, 'two', 'az2')
        plain = self.manager.create_aggregate(self.ctx, 'plain')
        self.manager.add_host(self.ctx, one['id'], 'node1')
        self.manager.add_host(self.ctx, plain['id'], 'node1')
        self.assertRaises(exception.AggregateHostExists, self.manager.add_host,
                          self.ctx, one['id'], 'node1')
        self.assertRaises(exception.ComputeHostNotFound,
                          self.manager.add_host, self.ctx, one['id'], 'nodeX')
        self.assertRaises(exception.AggregateHostNotFound,
                          self.manager.remove_host, self.ctx, one['id'],
                          'node2')
        self.assertRaises(exception.HostZoneConflict, self.manager.add_host,
                          self.ctx, two['id'], 'node1')
        self.assertRaises(exception.InvalidZoneChange,
                          self.manager.set_metadata, self.ctx, plain['id'],
                          {'availability_zone': 'az2'})
        got = self.manager.set_metadata(self.ctx, plain['id'],
                                        {'availability_zone': 'az1', 'a': '1'})
        self.assertEqual({'availability_zone': 'az1', 'a': '1'},
                         got['metadata'])
        self.assertRaises(exception.InvalidZoneChange,
                          self.manager.update_aggregate, self.ctx, one['id'],
                          availability_zone='az2')
        self.assertRaises(exception.ComputeHostInUse, self.hosts.unregister,
                          self.ctx, 'node1')
        listed = {h['name']: h for h in self.hosts.list(self.ctx)}
        self.assertEqual('az1', listed['node1']['zone'])
        self.assertEqual({'az1'}, self.nova_zone_of('node1'))

    def test_metadata_limit(self):
        agg = self.manager.create_aggregate(self.ctx, 'a')
        limit = self.conf_fixture.conf.api.max_aggregate_metadata_items
        self.manager.set_metadata(self.ctx, agg['id'], {
            'k%d' % i: 'v' for i in range(limit)})
        self.assertRaises(exception.TooManyMetadataItems,
                          self.manager.set_metadata, self.ctx, agg['id'],
                          {'one-more': 'v'})
        self.assertEqual(limit, len(self.rows(nova.aggregate_metadata,
                                              aggregate_id=agg['id'])))

    # -- aggregates that Nova made or deleted ---------------------------------

    def test_an_aggregate_made_by_nova_is_seen_and_managed(self):
        busy = self.nova_create('nova-busy', 'az1', ['node1', 'node2'],
                                {'ssd': 'true'})
        empty = self.nova_create('nova-empty')
        by_id = {a['id']: a for a in self.manager.list_aggregates(self.ctx)}
        self.assertEqual(('nova-busy', 'active', ['node1', 'node2'], 'az1',
                          {'availability_zone': 'az1', 'ssd': 'true'}), (
            by_id[busy]['name'], by_id[busy]['operational_state'],
            by_id[busy]['hosts'], by_id[busy]['availability_zone'],
            by_id[busy]['metadata']))
        self.assertEqual(('created', [], {}), (
            by_id[empty]['operational_state'], by_id[empty]['hosts'],
            by_id[empty]['metadata']))
        self.assertEqual(AGGREGATE_KEYS, set(db_api.aggregate_get(self.ctx,
                                                                  busy)))
        self.assertEqual([busy], [a['id'] for a in
                                  db_api.aggregate_get_by_state(
                                      self.ctx, 'active')])
        self.assertEqual([empty], [a['id'] for a in
                                   db_api.aggregate_get_by_state(
                                       self.ctx, 'created')])
        # Its zone binds our aggregates' hosts.
        ours = self.manager.create_aggregate(self.ctx, 'ours', 'az2')
        self.assertRaises(exception.HostZoneConflict, self.manager.add_host,
                          self.ctx, ours['id'], 'node1')
        beside = self.manager.create_aggregate(self.ctx, 'beside', 'az1')
        self.manager.add_host(self.ctx, beside['id'], 'node2')
        self.assertRaises(exception.InvalidZoneChange,
                          self.manager.update_aggregate, self.ctx, busy,
                          availability_zone='az9')
        self.manager.remove_host(self.ctx, beside['id'], 'node2')
        # Managed like ours.
        self.manager.add_host(self.ctx, busy, 'node3')
        self.manager.update_aggregate(self.ctx, busy, name='renamed')
        self.manager.set_metadata(self.ctx, busy, {'ssd': None, 'gpu': '1'})
        self.manager.remove_host(self.ctx, busy, 'node1')
        self.assertEqual({'renamed': (['node2', 'node3'], {
            'availability_zone': 'az1', 'gpu': '1'})},
            self.nova_get_by_host('node3'))
        agg = self.manager.add_host(self.ctx, empty, 'node4')
        self.assertEqual('active', agg['operational_state'])
        for host in ('node2', 'node3'):
            self.manager.remove_host(self.ctx, busy, host)
        self.manager.delete_aggregate(self.ctx, busy)
        self.assertEqual([], self.rows(nova.aggregates, id=busy))

    def test_compare_and_set_on_an_aggregate_without_state_row(self):
        agg_id = self.nova_create('nova-agg', 'az1', ['node1'])
        self.assertFalse(db_api.aggregate_compare_and_set_state(
            self.ctx, agg_id, [constants.CREATED],
            operational_state=constants.CHANGING))
        self.assertEqual([], self.rows(state_table))
        self.assertTrue(db_api.aggregate_compare_and_set_state(
            self.ctx, agg_id, constants.MAY_CHANGE,
            operational_state=constants.CHANGING, pending_host='node2',
            task_owner='t'))
        self.assertFalse(db_api.aggregate_compare_and_set_state(
            self.ctx, agg_id, constants.MAY_CHANGE,
            operational_state=constants.CHANGING, pending_host='node3'))
        got = db_api.aggregate_get(self.ctx, agg_id)
        self.assertEqual(('changing', 'node2', 't'), (
            got['operational_state'], got['pending_host'], got['task_owner']))
        # The host being added is taken, for the zone rule too.
        self.assertEqual([agg_id], [a['id'] for a in db_api.host_aggregates(
            self.ctx, ['node2'])['node2']])
        other = self.manager.create_aggregate(self.ctx, 'other', 'az2')
        self.assertRaises(exception.HostZoneConflict, self.manager.add_host,
                          self.ctx, other['id'], 'node2')
        self.assertRaises(exception.PoolOperationInProgress,
                          self.manager.set_metadata, self.ctx, agg_id,
                          {'k': 'v'})
        self.assertEqual([agg_id], [a['id'] for a in
                                    db_api.aggregate_get_by_state(
                                        self.ctx, 'changing')])
        self.assertTrue(db_api.aggregate_compare_and_set_state(
            self.ctx, agg_id, [constants.CHANGING],
            operational_state=constants.ACTIVE, pending_host=None,
            task_owner=None))
        self.assertEqual([], db_api.host_aggregates(self.ctx,
                                                    ['node2'])['node2'])
        self.assertFalse(db_api.aggregate_compare_and_set_state(
            self.ctx, 4040, constants.MAY_CHANGE,
            operational_state=constants.CHANGING))

    def test_an_aggregate_without_uuid(self):
        # Rows of Nova releases before aggregate uuids.
        agg_id = self.nova_create('old', hosts=['node1'], uuid=False)
        self.assertIsNone(db_api.aggregate_get(self.ctx, agg_id)['uuid'])
        db_api.aggregate_update(self.ctx, agg_id, operational_state='error',
                                last_error='x')
        self.assertEqual('error', db_api.aggregate_get(
            self.ctx, agg_id)['operational_state'])

    def test_a_deletion_by_nova_is_seen(self):
        agg = self.manager.create_aggregate(self.ctx, 'doomed', 'az1')
        self.manager.add_host(self.ctx, agg['id'], 'node1')
        self.manager.remove_host(self.ctx, agg['id'], 'node1')
        db_api.aggregate_update(self.ctx, agg['id'], operational_state='error',
                                last_error='stale')
        keep = self.manager.create_aggregate(self.ctx, 'keep')
        # Our state row does not stop Nova's delete (no foreign key; SQLite
        # enforces Nova's).
        self.nova_delete(agg['id'])
        self.assertRaises(exception.AggregateNotFound,
                          self.manager.get_aggregate, self.ctx, agg['id'])
        self.assertEqual([keep['id']], [
            a['id'] for a in self.manager.list_aggregates(self.ctx)])
        self.assertEqual([], db_api.aggregate_get_by_state(self.ctx, 'error'))
        self.assertRaises(exception.AggregateNotFound, self.manager.add_host,
                          self.ctx, agg['id'], 'node1')
        # The free zone: node1 may go anywhere.
        other = self.manager.create_aggregate(self.ctx, 'other', 'az2')
        self.manager.add_host(self.ctx, other['id'], 'node1')
        # Nova hands the id out again (SQLite does by itself): the new
        # aggregate does not inherit the state of the old one.
        again = self.nova_create('reborn', aggregate_id=agg['id'])
        got = self.manager.get_aggregate(self.ctx, again)
        self.assertEqual(('reborn', 'created'), (got['name'],
                                                 got['operational_state']))
        self.manager.add_host(self.ctx, again, 'node2')
        row, = self.rows(state_table, aggregate_id=again)
        self.assertEqual('active', row['operational_state'])
        self.assertIsNone(row['last_error'])
        # A delete through us sweeps the rows Nova's deletes left.
        gone = self.manager.create_aggregate(self.ctx, 'gone')
        db_api.aggregate_update(self.ctx, gone['id'], last_error='x')
        self.nova_delete(gone['id'])
        self.assertEqual(1, len(self.rows(state_table,
                                          aggregate_id=gone['id'])))
        self.manager.delete_aggregate(self.ctx, keep['id'])
        self.assertEqual([again, other['id']], sorted(
            row['aggregate_id'] for row in self.rows(state_table)))

    # -- races ----------------------------------------------------------------

    def test_two_threads_one_host_two_zones(self):
        for number in range(1, 5):
            host = 'node%d' % number
            aggs = [self.manager.create_aggregate(
                self.ctx, 't%d-%d' % (number, i), 'az%d' % i)['id']
                for i in range(2)]
            results = concurrency.at_once([functools.partial(
                self.manager.add_host, context.get_admin_context(), agg_id,
                host) for agg_id in aggs])
            won = [r for r in results if isinstance(r, dict)]
            self.assertEqual(1, len(won), results)
            lost, = [r for r in results if not isinstance(r, dict)]
            self.assertIsInstance(lost, exception.HostZoneConflict)
            self.assertEqual({won[0]['availability_zone']},
                             self.nova_zone_of(host))

    def test_eight_threads_one_host_two_zones(self):
        aggs = [self.manager.create_aggregate(self.ctx, 'e%d' % i,
                                              'az%d' % (i % 2))['id']
                for i in range(8)]
        results = concurrency.at_once([functools.partial(
            self.manager.add_host, context.get_admin_context(), agg_id,
            'node5') for agg_id in aggs])
        won = [i for i, r in enumerate(results) if isinstance(r, dict)]
        self.assertEqual(4, len(won), results)
        self.assertEqual(1, len({i % 2 for i in won}))
        for result in results:
            if not isinstance(result, dict):
                self.assertIsInstance(result, exception.HostZoneConflict)
        self.assertEqual(1, len(self.nova_zone_of('node5')))

    def test_two_processes_one_host_two_zones(self):
        for number in range(1, 3):
            host = 'node%d' % number
            aggs = [self.manager.create_aggregate(
                self.ctx, 'p%d-%d' % (number, i), 'az%d' % i)['id']
                for i in range(2)]
            # The children use the parent's configured service (no
            # transaction is open at the fork).
            results, _ = concurrency.processes_at_once(
                _add_host_in_a_process, [(agg_id, host) for agg_id in aggs],
                result_timeout=60)
            self.assertEqual(['HostZoneConflict', 'ok'], sorted(results))
            self.assertEqual(1, len(self.nova_zone_of(host)))
            self.assertEqual(1, len(db_api.host_aggregates(
                self.ctx, [host])[host]))

    def test_concurrent_metadata_writes_lose_nothing(self):
        agg = self.manager.create_aggregate(self.ctx, 'm')
        results = concurrency.at_once([functools.partial(
            self.manager.set_metadata, context.get_admin_context(), agg['id'],
            {'k%d' % n: str(n)}) for n in range(6)])
        self.assertTrue(all(isinstance(r, dict) for r in results), results)
        self.assertEqual({'k%d' % n: str(n) for n in range(6)},
                         self.manager.get_aggregate(self.ctx,
                                                    agg['id'])['metadata'])

    # -- statement counts -----------------------------------------------------

    def _populate(self, count, hosts_each, keys_each, prefix):
        names = ['%s-h%d' % (prefix, i) for i in range(hosts_each)]
        for name in names:
            self.hosts.register(self.ctx, name)
        ids = []
        for i in range(count):
            agg = self.manager.create_aggregate(self.ctx, '%s-%d' % (
                prefix, i), 'az1')
            for name in names:
                self.manager.add_host(self.ctx, agg['id'], name)
            self.manager.set_metadata(self.ctx, agg['id'], {
                'key%d' % k: 'v' for k in range(keys_each)})
            ids.append(agg['id'])
        # And as many made by Nova, without state rows.
        for i in range(count):
            self.nova_create('%s-nova-%d' % (prefix, i), 'az1', names, {
                'key%d' % k: 'v' for k in range(keys_each)})
        return ids, names

    def _count(self, fn, *args):
        fn(*args)  # warm: the pool has its connection
        with self.count_statements() as counter:
            fn(*args)
        return counter.count

    def test_statement_counts_do_not_grow(self):
        small, small_hosts = self._populate(1, 1, 1, 's')
        counts = [self._count(self.manager.list_aggregates, self.ctx),
                  self._count(self.manager.get_aggregate, self.ctx, small[0]),
                  self._count(db_api.host_aggregates, self.ctx, small_hosts),
                  self._count(self.hosts.list, self.ctx),
                  self._count(db_api.aggregate_get_by_state, self.ctx,
                              'active')]
        big, big_hosts = self._populate(15, 6, 30, 'b')
        self.assertEqual(counts, [
            self._count(self.manager.list_aggregates, self.ctx),
            self._count(self.manager.get_aggregate, self.ctx, big[-1]),
            self._count(db_api.host_aggregates, self.ctx, big_hosts),
            self._count(self.hosts.list, self.ctx),
            self._count(db_api.aggregate_get_by_state, self.ctx, 'active')])
        self.assertEqual([2, 2, 1, 2, 2], counts)
        self.assertEqual(32, len(self.manager.list_aggregates(self.ctx)))

    def test_write_statement_counts_do_not_grow(self):
        small = self._populate(1, 1, 1, 's')[0][0]
        big = self._populate(3, 6, 60, 'b')[0][0]
        self.hosts.register(self.ctx, 'extra')

        def cycle(aggregate_id):
            with self.count_statements() as counter:
                self.manager.set_metadata(self.ctx, aggregate_id,
                                          {'key0': 'w'})
                self.manager.add_host(self.ctx, aggregate_id, 'extra')
                self.manager.remove_host(self.ctx, aggregate_id, 'extra')
            return counter.count

        self.assertEqual(cycle(small), cycle(big))


class TestNovaAPIStoreSQLite(NovaAPIStoreTests, backends.SQLiteTestCase):
    pass


class TestNovaAPIStorePostgreSQL(NovaAPIStoreTests,
                                 backends.PostgreSQLTestCase):
    pass


class TestNovaAPIStoreMySQL(NovaAPIStoreTests, backends.MySQLTestCase):
    pass


# -- db sync ------------------------------------------------------------------

class SyncTests:
    """``nova-aggregates-manage db sync`` with ``aggregate_store =
    nova_api``, as an operator runs it, on ``self.BACKEND``."""

    def setUp(self):
        super().setUp()
        self.engine = self.database.engine()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def manage(self, *args, store='nova_api'):
        config = process.write_config(
            os.path.join(self.dir, 'test.conf'), {'database': {
                'connection': self.database.url, 'aggregate_store': store}})
        return subprocess.run(
            [os.path.join(process.BIN, 'nova-aggregates-manage'),
             '--config-file', config] + list(args),
            capture_output=True, text=True, timeout=120)

    def tables(self):
        return set(sa.inspect(self.engine).get_table_names())

    def nova_columns(self):
        inspector = sa.inspect(self.engine)
        return {table: [(c['name'], str(c['type']), c['nullable'])
                        for c in inspector.get_columns(table)]
                for table in ('aggregates', 'aggregate_hosts',
                              'aggregate_metadata')}

    def test_sync_is_idempotent_and_leaves_nova_alone(self):
        nova_api_schema.create(self.engine, other_tables=True)
        before = self.nova_columns()
        nova_tables = self.tables()
        for _ in range(2):
            result = self.manage('db', 'sync')
            self.assertEqual(0, result.returncode, result.stderr)
            self.assertIn('Database is at revision %s.' % OUR_HEAD,
                          result.stdout)
        self.assertEqual(nova_tables | {
            'compute_hosts', 'guest_origins',
            'nova_aggregates_aggregate_state',
            'nova_aggregates_alembic_version', 'rolling_maintenance_tasks',
            'rolling_maintenance_hosts', 'logbooks', 'flowdetails',
            'atomdetails', 'placement_mirror_steps'}, self.tables())
        self.assertEqual(before, self.nova_columns())
        self.assertEqual([nova.NOVA_API_HEAD], nova.nova_version(self.engine))
        result = self.manage('db', 'version')
        self.assertEqual(OUR_HEAD, result.stdout.strip())
        result = self.manage('host', 'add', 'node1', '--zone', 'az1')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('node1', self.manage('host', 'list').stdout)

    def test_sync_without_nova_tables_fails_clearly(self):
        result = self.manage('db', 'sync')
        self.assertEqual(1, result.returncode, result.stdout)
        self.assertIn("Nova's API database tables aggregate_hosts, "
                      "aggregate_metadata, aggregates are missing",
                      result.stderr)
        self.assertIn('run nova-manage api_db sync first', result.stderr)
        self.assertEqual(set(), self.tables())

    def test_sync_on_a_database_of_the_own_store_fails(self):
        self.assertEqual(0, self.manage('db', 'sync', store='own').returncode)
        result = self.manage('db', 'sync')
        self.assertEqual(1, result.returncode, result.stdout)
        self.assertIn('names a database of the own store', result.stderr)

    def test_own_store_sync_on_novas_database_fails(self):
        nova_api_schema.create(self.engine)
        result = self.manage('db', 'sync', store='own')
        self.assertEqual(1, result.returncode, result.stdout)
        self.assertIn('set [database] aggregate_store = nova_api',
                      result.stderr)
        self.assertEqual([nova.NOVA_API_HEAD], nova.nova_version(self.engine))


class TestSyncSQLite(SyncTests, backends.SQLiteTestCase):
    pass


class TestSyncPostgreSQL(SyncTests, backends.PostgreSQLTestCase):
    pass


class TestSyncMySQL(SyncTests, backends.MySQLTestCase):
    pass


class ModelsMigrationsSync(test_migrations.ModelsMigrationsSync):
    """oslo.db's check for our tables in Nova's API database: alembic's
    autogenerate finds nothing to do after ``db sync``."""

    def setUp(self):
        super().setUp()
        self.engine = self.database.engine()

    def db_sync(self, engine):
        nova_api_schema.create(engine)
        migration.db_sync(engine, store='nova_api')

    def get_engine(self):
        return self.engine

    def get_metadata(self):
        return store_models.OURS

    def include_object(self, object_, name, type_, reflected, compare_to):
        if type_ == 'unique_constraint' and object_.table.name in \
                TASKFLOW_TABLES:
            # TaskFlow declares its uuid keys unique as well as primary:
            # PostgreSQL keeps the key alone, which is the same constraint.
            return False
        return type_ != 'table' or name in store_models.OURS.tables


class TestModelsMigrationsSyncSQLite(ModelsMigrationsSync,
                                     backends.SQLiteTestCase):
    pass


class TestModelsMigrationsSyncPostgreSQL(ModelsMigrationsSync,
                                         backends.PostgreSQLTestCase):
    pass


class TestModelsMigrationsSyncMySQL(ModelsMigrationsSync,
                                    backends.MySQLTestCase):

    def test_our_names_compare_exactly(self):
        self.db_sync(self.engine)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text(
                'SELECT table_name, column_name, collation_name FROM '
                'information_schema.columns WHERE table_schema = DATABASE()'
            )).all()
        collations = {(t, c): coll for t, c, coll in rows}
        expected = db_models.exact_collation(self.engine.dialect)
        for column in (('compute_hosts', 'name'),
                       (store_models.STATE_TABLE, 'pending_host')):
            self.assertEqual(expected, collations[column], column)
        # Nova's are the server's default utf8 (three-byte) collation.
        self.assertTrue(collations[('aggregates', 'name')].startswith(
            'utf8'), collations[('aggregates', 'name')])
        self.assertNotIn('mb4', collations[('aggregates', 'name')])
