"""Pool aggregates (xenapi driver, XenServer simulator) served by several
API processes on one PostgreSQL database: concurrent membership changes,
and a server SIGKILLed in the middle of a pool operation.

Two nodes with ``[api] workers = 2`` share the database; the simulated
XenServer fleet runs in the test process and the servers reach it over
loopback with the real XenAPI SDK.  Every XenServer pool call is slowed
down (fault injection) so that a pool operation is still running when the
concurrent requests arrive.  After each step the test compares three
views: the answers, the database, and the simulator's pools.
"""

import collections
import threading
import time

import sqlalchemy as sa
import testtools.content

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates import service
from nova_aggregates.xenserver_sim import Fleet
from tests.functional import backends
from tests.functional.backends import servers

NODES = 2
WORKERS = 2
HOSTS = 5
PASSWORD = 'secret'
#: How long each XenServer pool call takes: long enough for every
#: concurrent request of a burst to arrive while the first one runs.
SLOW = 0.8
XENAPI = {'connection_username': 'root', 'connection_password': PASSWORD,
          'connect_timeout': 5, 'call_timeout': 10, 'join_timeout': 10,
          'poll_interval': 0.02}
POOL_CALLS = ('pool.join', 'pool.eject', 'pool.set_name_label')


class PoolRaceTests(servers.BurstMixin, backends.ServiceDatabaseMixin):

    @classmethod
    def set_up_class(cls):
        cls.database.migrate()
        sections = {'DEFAULT': {'compute_driver': 'xenapi'},
                    'xenapi': XENAPI}
        cls.nodes = [cls.use_class_fixture(servers.APIServer(
            cls.database.url, workers=WORKERS, sections=sections,
            name='node%d' % n)) for n in range(NODES)]

    def setUp(self):
        super().setUp()
        for node in self.nodes:
            self.addOnException(lambda exc_info, node=node: self.addDetail(
                node.name + '-log', testtools.content.text_content(
                    node.output()[-30000:])))
        self.use_service()
        self.ctx = context.get_admin_context()
        self.manager = service.get_services().aggregates
        self.hosts = service.get_services().compute_hosts
        self.engine = self.database.engine()
        self.prefix = 'p%d-' % (id(self) % 100000)
        self.fleet = Fleet(hosts=HOSTS, username='root', password=PASSWORD,
                           bind_address='127.0.0.1', port=0,
                           join_delay=0.05, eject_delay=0.05,
                           distinct_addresses=True)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)
        # Our host names differ from the simulator's on purpose.
        self.names = {}
        for sim in self.fleet.hosts:
            name = self.prefix + sim.name
            self.names[name] = sim.name
            self.hosts.register(self.ctx, name, 'az1', sim.url)
        for node in self.nodes:
            if not node.running():
                node.start()

    def slow_down(self, delay=SLOW):
        for method in POOL_CALLS:
            self.fleet.inject(method, delay=delay, times=None)
        self.addCleanup(self.fleet.clear_faults)

    def host(self, number):
        return '%sxenhost%d' % (self.prefix, number)

    def create_pool(self, name):
        node = self.nodes[0]
        response = node.request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': self.prefix + name,
                          'availability_zone': 'az1'}})
        self.assertEqual(200, response.status, response)
        agg_id = response.json()['aggregate']['id']
        response = node.request(*self.action(agg_id, {'set_metadata': {
            'metadata': {'hypervisor_pool': 'true'}}}))
        self.assertEqual(200, response.status, response)
        return agg_id

    def action(self, aggregate_id, body):
        return ('POST', '/v2.1/os-aggregates/%d/action' % aggregate_id, body)

    def assertOneWinner(self, results,
                        reasons=('pool operation is in progress',)):
        self.assertEqual({200: 1, 409: len(results) - 1}, dict(
            collections.Counter(r.status for r in results)), results)
        for result in results:
            if result.status == 409:
                message = result.fault()[2]
                self.assertTrue(any(reason in message for reason in reasons),
                                message)
        return [r for r in results if r.status == 200][0]

    def assertPoolMatchesDatabase(self, aggregate_id, members):
        """Database, API and simulator agree on the pool's membership."""
        self.assertTrue(self.fleet.settle(10))
        agg = self.manager.get_aggregate(self.ctx, aggregate_id)
        self.assertEqual(sorted(members), sorted(agg['hosts']))
        rows = self.db_hosts(aggregate_id)
        self.assertEqual(sorted(members), rows)
        self.assertEqual('active' if members else 'created',
                         agg['operational_state'])
        if not members:
            self.assertNotIn('master_compute', agg['metadata'])
            return agg
        master = agg['metadata']['master_compute']
        self.assertIn(master, members)
        pool = self.fleet.pool_of(self.names[master])
        self.assertEqual(self.names[master], pool['master'])
        self.assertEqual(sorted(self.names[m] for m in members),
                         pool['members'])
        self.assertEqual(agg['name'], pool['name_label'])
        uuids = {k.split(':', 1)[1]: v for k, v in agg['metadata'].items()
                 if k.startswith('xenapi_host_uuid:')}
        self.assertEqual({m: self.fleet.host(self.names[m]).uuid
                          for m in members}, uuids)
        for node in self.nodes:
            shown = node.request('GET', '/v2.1/os-aggregates/%d' %
                                 aggregate_id).json()['aggregate']
            self.assertEqual(sorted(members), sorted(shown['hosts']))
            self.assertEqual('active', shown['metadata'][
                'operational_state'])
        return agg

    def db_hosts(self, aggregate_id):
        members = db_api.aggregate_hosts
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.select(members.c.host).where(
                members.c.aggregate_id == aggregate_id)).scalars())

    def db_state(self, aggregate_id):
        with self.engine.connect() as conn:
            return conn.execute(sa.select(
                db_api.aggregates.c.operational_state).where(
                db_api.aggregates.c.id == aggregate_id)).scalar()

    # -- races ----------------------------------------------------------------

    def test_concurrent_membership_changes_on_one_pool(self):
        agg_id = self.create_pool('pool')
        self.slow_down()
        members = []
        candidates = [self.host(n) for n in range(1, HOSTS + 1)]
        # Three bursts of add_host for every host not yet in: exactly one
        # request per burst runs its pool operation, the others see the
        # aggregate "changing" and get 409.
        for _ in range(3):
            left = [h for h in candidates if h not in members]
            results = self.fire([self.action(agg_id, {'add_host': {
                'host': h}}) for h in left])
            winner = self.assertOneWinner(results)
            members = winner.json()['aggregate']['hosts']
            self.assertPoolMatchesDatabase(agg_id, members)
        self.assertEqual(3, len(members))
        # Now remove every member at once, master included: one eject
        # wins; the master may not leave while others remain.
        master = self.manager.get_aggregate(
            self.ctx, agg_id)['metadata']['master_compute']
        results = self.fire([self.action(agg_id, {'remove_host': {
            'host': h}}) for h in members])
        # The master's request loses either way: to the operation in
        # flight, or (arriving after it) to the master-leaves-last rule.
        winner = self.assertOneWinner(results, reasons=(
            'pool operation is in progress', 'it is the pool master'))
        members = winner.json()['aggregate']['hosts']
        self.assertIn(master, members)
        self.assertPoolMatchesDatabase(agg_id, members)

    def test_one_host_into_two_pools_at_once(self):
        pools = [self.create_pool('pool-a'), self.create_pool('pool-b')]
        self.slow_down()
        host = self.host(1)
        results = self.fire([self.action(agg_id, {'add_host': {'host': host}})
                             for agg_id in pools for _ in range(3)])
        self.assertEqual({200: 1, 409: 5}, dict(collections.Counter(
            r.status for r in results)), results)
        winner = [r for r in results if r.status == 200][0]
        won = winner.json()['aggregate']['id']
        lost = [p for p in pools if p != won][0]
        self.assertPoolMatchesDatabase(won, [host])
        self.assertPoolMatchesDatabase(lost, [])
        # Once the race is over, the rule still says no.
        response = self.nodes[1].request(*self.action(
            lost, {'add_host': {'host': host}}))
        self.assertEqual(409, response.status)
        self.assertIn('already in hypervisor pool', response.fault()[2])

    # -- crashes --------------------------------------------------------------

    def _kill_during(self, agg_id, method, body):
        """Send ``body`` to node0, SIGKILL node0 while XenServer runs
        ``method``, then restart it (which reconciles)."""
        node = self.nodes[0]
        calls_before = len(self.fleet.call_log())
        result = {}
        thread = threading.Thread(target=lambda: result.update(
            response=self._quiet(node, agg_id, body)), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while (method not in {m for _, m in self.fleet.call_log()[
                calls_before:]}):
            self.assertLess(time.monotonic(), deadline,
                            'the pool operation never reached XenServer')
            time.sleep(0.01)
        self.assertEqual('changing', self.db_state(agg_id))
        node.kill()
        thread.join(20)
        self.assertNotIsInstance(result.get('response'), servers.Response,
                                 'the request should have been cut off')
        # XenServer finishes what it was asked; the database still says
        # "changing", owned by a process that is gone.
        self.assertTrue(self.fleet.settle(10))
        time.sleep(SLOW + 0.2)
        self.assertTrue(self.fleet.settle(10))
        self.assertEqual('changing', self.db_state(agg_id))
        node.start()
        self.assertIn('Reconciled interrupted pool operations',
                      node.output())
        self.assertNotEqual('changing', self.db_state(agg_id))

    @staticmethod
    def _quiet(node, agg_id, body):
        try:
            return node.request('POST', '/v2.1/os-aggregates/%d/action' %
                                agg_id, body, timeout=30)
        except OSError as exc:
            return exc

    def test_sigkill_during_join_and_eject_is_reconciled(self):
        agg_id = self.create_pool('crash')
        first, second, third = self.host(1), self.host(2), self.host(3)
        for host in (first, second):
            self.assertEqual(200, self.nodes[1].request(*self.action(
                agg_id, {'add_host': {'host': host}})).status)
        self.slow_down()
        # Killed while pool.join runs: XenServer completes the join, and
        # the restarted server records the host.
        self._kill_during(agg_id, 'pool.join',
                          {'add_host': {'host': third}})
        self.assertPoolMatchesDatabase(agg_id, [first, second, third])
        # Killed while pool.eject runs: the host leaves the pool, and the
        # restarted server removes it from the aggregate.
        self._kill_during(agg_id, 'pool.eject',
                          {'remove_host': {'host': second}})
        self.assertPoolMatchesDatabase(agg_id, [first, third])
        # And the aggregate works on, from either node.
        self.fleet.clear_faults()
        self.assertEqual(200, self.nodes[1].request(*self.action(
            agg_id, {'remove_host': {'host': third}})).status)
        self.assertEqual(200, self.nodes[0].request(*self.action(
            agg_id, {'remove_host': {'host': first}})).status)
        self.assertPoolMatchesDatabase(agg_id, [])


class TestPoolRacesPostgreSQL(PoolRaceTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.POSTGRESQL
