"""Concurrent administrators against several API processes on one shared
database.

Two "nodes" (two ``nova-aggregates-api`` servers) with ``[api] workers =
2`` each serve one PostgreSQL (or MySQL/MariaDB) database: four processes
whose only shared state is the database.  Each race fires all its
requests at the same moment (a barrier releases one client thread per
request, spread over both nodes), then checks the answers and the
database.  Nothing may answer 5xx, and no write may be lost.
"""

import collections

import sqlalchemy as sa
import testtools.content

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates import service
from tests.functional import backends
from tests.functional.backends import servers

NODES = 2
WORKERS = 2
CLIENTS = 16
ROUNDS = 4


class RaceTests(servers.BurstMixin, backends.ServiceDatabaseMixin):
    """The servers and the database are the class's; each test uses names
    and hosts of its own."""

    NODES = NODES
    WORKERS = WORKERS

    @classmethod
    def set_up_class(cls):
        cls.start_nodes()

    def setUp(self):
        super().setUp()
        self.attach_node_logs()
        self.use_service()
        self.ctx = context.get_admin_context()
        self.manager = service.get_services().aggregates
        self.hosts = service.get_services().compute_hosts
        self.engine = self.database.engine()
        self.prefix = self.id().rsplit('.', 1)[-1][len('test_'):][:40] + '-'
        for number in range(1, 17):
            self.hosts.register(self.ctx, self.host(number))

    def host(self, number):
        return '%snode%d' % (self.prefix, number)

    def create(self, name, zone=None):
        body = {'aggregate': {'name': self.prefix + name}}
        if zone is not None:
            body['aggregate']['availability_zone'] = zone
        response = self.nodes[0].request('POST', '/v2.1/os-aggregates', body)
        self.assertEqual(200, response.status, response)
        return response.json()['aggregate']['id']

    def action(self, aggregate_id, body):
        return ('POST', '/v2.1/os-aggregates/%d/action' % aggregate_id, body)

    def db_rows(self, query):
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def db_host_zones(self, host):
        """The zones of the aggregates ``host`` is in, read from the
        database (None for an aggregate without a zone)."""
        meta = db_api.aggregate_metadata
        members = db_api.aggregate_hosts
        query = (sa.select(members.c.aggregate_id, meta.c.value)
                 .select_from(members)
                 .outerjoin(meta, sa.and_(
                     meta.c.aggregate_id == members.c.aggregate_id,
                     meta.c.key == 'availability_zone'))
                 .where(members.c.host == host))
        return dict(self.db_rows(query))

    def assertStatuses(self, expected, results):
        self.assertEqual(expected, collections.Counter(
            r.status for r in results), results)

    def assertBothNodesServed(self):
        for node in self.nodes:
            self.assertTrue(node.pids_that_served('os-aggregates'),
                            node.name)

    # -- the races ------------------------------------------------------------

    def test_concurrent_creates_of_one_name(self):
        for number in range(ROUNDS):
            name = '%srace-%d' % (self.prefix, number)
            # Half ask for the name, half for the same name in capitals:
            # exactly one of each wins (names are case-sensitive).
            requests = [('POST', '/v2.1/os-aggregates', {'aggregate': {
                'name': name if i % 2 else name.upper()}})
                for i in range(CLIENTS)]
            results = self.fire(requests)
            self.assertStatuses({200: 2, 409: CLIENTS - 2}, results)
            for result in results:
                if result.status == 409:
                    self.assertEqual('conflictingRequest', result.fault()[0])
            winners = sorted(r.json()['aggregate']['name'] for r in results
                             if r.status == 200)
            self.assertEqual(sorted([name, name.upper()]), winners)
            names = db_api.aggregates.c.name
            self.assertEqual(winners, sorted(n for (n,) in self.db_rows(
                sa.select(names).where(names.in_([name, name.upper()])))))
        prefixes = (self.prefix, self.prefix.upper())
        self.assertEqual(2 * ROUNDS, len([
            name for (name,) in self.db_rows(sa.select(
                db_api.aggregates.c.name)) if name.startswith(prefixes)]))
        self.assertBothNodesServed()

    def test_concurrent_add_host_keeps_the_zone_rule(self):
        # Eight aggregates: three zones twice each, and two without zone.
        zones = ['az1', 'az1', 'az2', 'az2', 'az3', 'az3', None, None]
        ids = [self.create('agg%d' % i, zone) for i, zone in enumerate(zones)]
        zone_of = dict(zip(ids, zones))
        for number in range(1, ROUNDS + 1):
            host = self.host(number)
            requests = [self.action(agg_id, {'add_host': {'host': host}})
                        for agg_id in ids for _ in range(2)]
            results = self.fire(requests)
            won = {}
            for (_, path, _), result in zip(requests, results):
                agg_id = int(path.split('/')[3])
                if result.status == 200:
                    self.assertNotIn(agg_id, won, 'added twice')
                    won[agg_id] = result
                else:
                    self.assertEqual(409, result.status, result)
            # The two aggregates without zone always take the host; of
            # the zoned ones only those of one zone.
            zoned = {zone_of[a] for a in won if zone_of[a] is not None}
            self.assertEqual(1, len(zoned), won)
            expected = {a for a in ids if zone_of[a] in zoned | {None}}
            self.assertEqual(expected, set(won))
            in_db = self.db_host_zones(host)
            self.assertEqual(expected, set(in_db))
            self.assertEqual(zoned, set(in_db.values()) - {None})
        self.assertBothNodesServed()

    def test_concurrent_zone_changes_keep_the_zone_rule(self):
        for number in range(1, ROUNDS + 1):
            host = self.host(number)
            ids = [self.create('zone-%d-%d' % (number, i)) for i in range(6)]
            for agg_id in ids:
                self.assertEqual(200, self.nodes[1].request(
                    *self.action(agg_id, {'add_host': {'host': host}})).status)
            # Every aggregate of the host asks for a different zone at
            # once, half by update and half by set_metadata.
            requests = []
            for i, agg_id in enumerate(ids):
                zone = 'z%d' % i
                if i % 2:
                    requests.append(('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                                     {'aggregate': {'availability_zone':
                                                    zone}}))
                else:
                    requests.append(self.action(agg_id, {'set_metadata': {
                        'metadata': {'availability_zone': zone}}}))
            results = self.fire(requests)
            self.assertStatuses({200: 1, 400: len(ids) - 1}, results)
            zones = set(self.db_host_zones(host).values()) - {None}
            self.assertEqual(1, len(zones), zones)

    def test_concurrent_set_metadata_loses_nothing(self):
        agg_id = self.create('meta')
        seeded = {'old%d' % i: 'x' for i in range(CLIENTS)}
        self.assertEqual(200, self.nodes[0].request(*self.action(
            agg_id, {'set_metadata': {'metadata': seeded}})).status)
        expected = {}
        for number in range(ROUNDS):
            requests = []
            for i in range(CLIENTS):
                key = 'r%d-c%d' % (number, i)
                # Each request sets its own key, removes one seeded key
                # (first round) and writes the shared key.
                metadata = {key: 'v%d' % i, 'shared': 'c%d' % i}
                if number == 0:
                    metadata['old%d' % i] = None
                expected[key] = 'v%d' % i
                requests.append(self.action(agg_id, {'set_metadata': {
                    'metadata': metadata}}))
            results = self.fire(requests)
            self.assertStatuses({200: CLIENTS}, results)
        got = self.manager.get_aggregate(self.ctx, agg_id)['metadata']
        shared = got.pop('shared')
        self.assertIn(shared, {'c%d' % i for i in range(CLIENTS)})
        self.assertEqual(expected, got)
        meta = db_api.aggregate_metadata
        self.assertEqual(len(expected) + 1, len(self.db_rows(
            sa.select(meta.c.id).where(meta.c.aggregate_id == agg_id))))
        # Through the API, from either node, the same.
        for node in self.nodes:
            shown = node.request('GET', '/v2.1/os-aggregates/%d' % agg_id)
            self.assertEqual(dict(expected, shared=shared),
                             shown.json()['aggregate']['metadata'])

    def test_concurrent_membership_changes_on_one_aggregate(self):
        agg_id = self.create('members', 'az1')
        first = [self.host(i) for i in range(1, 9)]
        second = [self.host(i) for i in range(9, 17)]
        for host in first:
            self.assertEqual(200, self.nodes[0].request(*self.action(
                agg_id, {'add_host': {'host': host}})).status)
        # Remove the first eight and add the other eight at once; every
        # host is also asked twice, so one of each pair must lose.
        requests = []
        for host in first:
            requests += [self.action(agg_id, {'remove_host': {'host': host}})
                         ] * 2
        for host in second:
            requests += [self.action(agg_id, {'add_host': {'host': host}})
                         ] * 2
        results = self.fire(requests)
        self.assertStatuses({200: 16, 404: 8, 409: 8}, results)
        got = self.manager.get_aggregate(self.ctx, agg_id)
        self.assertEqual(sorted(second), sorted(got['hosts']))
        members = db_api.aggregate_hosts
        self.assertEqual(sorted(second), sorted(h for (h,) in self.db_rows(
            sa.select(members.c.host).where(
                members.c.aggregate_id == agg_id))))

    def test_concurrent_delete_and_add_host(self):
        for number in range(1, ROUNDS + 1):
            agg_id = self.create('doomed-%d' % number)
            host = self.host(number)
            requests = [('DELETE', '/v2.1/os-aggregates/%d' % agg_id, None),
                        self.action(agg_id, {'add_host': {'host': host}})] * 4
            results = self.fire(requests)
            deleted = [r for r in results[0::2] if r.status == 200]
            added = [r for r in results[1::2] if r.status == 200]
            exists = self.db_rows(sa.select(db_api.aggregates.c.id).where(
                db_api.aggregates.c.id == agg_id))
            hosts = self.db_rows(sa.select(db_api.aggregate_hosts.c.host)
                                 .where(db_api.aggregate_hosts.c.aggregate_id
                                        == agg_id))
            if deleted:
                # Deleted first: every add_host after it is a 404.
                self.assertEqual(([], [], [], 1), (added, exists, hosts,
                                                   len(deleted)))
                self.assertEqual({404}, {r.status for r in results[1::2]})
                self.assertStatuses({200: 1, 404: 3}, results[0::2])
            else:
                # Host added first: the aggregate is not empty, deletes 400.
                self.assertEqual(1, len(added))
                self.assertEqual([(host,)], hosts)
                self.assertEqual({400}, {r.status for r in results[0::2]})
                self.assertStatuses({200: 1, 409: 3}, results[1::2])


class TestRacesPostgreSQL(RaceTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.POSTGRESQL


class TestRacesMySQL(RaceTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.MYSQL


class TestColdStart(backends.SQLiteTestCase):
    """The very first requests of a fresh server arrive all at once: every
    worker thread then builds per-process state (policy enforcer, database
    pool, driver) at the same moment, and none may fail for it."""

    STARTS = 3

    def test_first_requests_arrive_together(self):
        engine = sa.create_engine(self.database.url)
        migration.db_sync(engine)
        engine.dispose()
        server = self.useFixture(servers.APIServer(self.database.url,
                                                   workers=2))
        self.addOnException(lambda exc_info: self.addDetail(
            'log', testtools.content.text_content(server.output()[-30000:])))
        sent = 0
        for start in range(self.STARTS):
            if start:
                server.stop()
                server.start()
            requests = []
            for i in range(CLIENTS):
                requests += [
                    ('GET', '/v2.1/os-aggregates', None),
                    ('POST', '/v2.1/os-aggregates', {'aggregate': {
                        'name': 'cold-%d-%d' % (start, i)}}),
                    ('GET', '/v1.1/admin/os-hosts', None),
                    ('GET', '/v2.1/extensions', None)]
            results = servers.burst([(server,) + r for r in requests])
            sent += len(requests)
            for request, result in zip(requests, results):
                self.assertIsInstance(result, servers.Response)
                self.assertEqual(200, result.status, '%s -> %r' % (
                    request, result))
        self.addDetail('requests', testtools.content.text_content(
            '%d requests in %d cold starts' % (sent, self.STARTS)))
