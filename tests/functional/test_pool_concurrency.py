"""Pool operations from several processes: real ``nova-aggregates-api``
servers (gunicorn, two workers each) on one shared SQLite file, all talking
to one simulated XenServer fleet.

* Parallel add_host/remove_host on one pool: exactly one request per round
  runs a pool operation, the losers get 409, XenServer sees one join or
  eject per winner and never two at once, and the database ends up with
  exactly the simulator's membership.
* A server killed (SIGKILL) while a join is in flight leaves the aggregate
  ``changing``; a restarted server, or ``nova-aggregates-manage aggregate
  reconcile``, repairs it against the real pool.
"""

import functools
import http.client
import os
import subprocess
import threading
import time

import fixtures
import testtools

from nova_aggregates.db import api as db_api
from tests.functional import pool_fixtures
from tests.support import concurrency

POOL_CALLS = ('pool.join', 'pool.join_force', 'pool.eject')


class ServersTestCase(testtools.TestCase):

    HOSTS = 4
    SERVERS = 2

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(
            pool_fixtures.FleetFixture(self.HOSTS)).fleet
        self.db = self.useFixture(
            pool_fixtures.SharedDatabaseFixture(self.fleet))
        self.servers = self.useFixture(pool_fixtures.APIServersFixture(
            self.db.connection, count=self.SERVERS, workers=2)).servers

    def call(self, server, method, path, body=None, expected=200):
        status, result = server.request(method, path, body)
        self.assertEqual(expected, status, result)
        return result

    def create_pool(self, server, name, hosts):
        agg = self.call(server, 'POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': name}})['aggregate']
        path = '/v2.1/os-aggregates/%d/action' % agg['id']
        self.call(server, 'POST', path, {'set_metadata': {
            'metadata': {'hypervisor_pool': 'true'}}})
        for host in hosts:
            self.call(server, 'POST', path, {'add_host': {'host': host}})
        return agg['id']

    def show(self, agg_id, server=None):
        return self.call(server or self.servers[-1], 'GET',
                         '/v2.1/os-aggregates/%d' % agg_id)['aggregate']

    def assertAgrees(self, agg_id, state):
        """The API's view (from every server) equals the simulator's."""
        views = [self.show(agg_id, server) for server in self.servers
                 if server.proc.poll() is None]
        agg = views[0]
        for other in views[1:]:
            self.assertEqual(agg, other)
        self.assertEqual(state, agg['metadata']['operational_state'])
        pool = self.fleet.pool_of(agg['metadata']['master_compute'])
        self.assertEqual(str(agg_id), pool['other_config']['nova_aggregate_id'])
        self.assertEqual(sorted(agg['hosts']), pool['members'])
        self.assertEqual(agg['name'], pool['name_label'])
        self.assertEqual(pool['master'], agg['metadata']['master_compute'])
        self.assertEqual(
            {'xenapi_host_uuid:' + h: self.fleet.host(h).uuid
             for h in agg['hosts']},
            {k: v for k, v in agg['metadata'].items()
             if k.startswith('xenapi_host_uuid:')})
        return agg

    def pool_calls(self):
        return [c for c in self.fleet.call_log() if c[1] in POOL_CALLS]


class ParallelMembershipTest(ServersTestCase):

    HOSTS = 5
    ROUNDS = 6

    def fire(self, requests):
        """Send (server, host, action) requests at the same moment."""
        return concurrency.at_once(
            [functools.partial(server.request, 'POST', path, body)
             for server, path, body in requests], timeout=30)

    def test_parallel_add_and_remove_on_one_pool(self):
        agg_id = self.create_pool(self.servers[0], 'rack1', ['xenhost1'])
        path = '/v2.1/os-aggregates/%d/action' % agg_id
        # Every join and eject takes a while: a window for the others.
        self.fleet.inject('pool.join', delay=0.4, times=None)
        self.fleet.inject('pool.eject', delay=0.4, times=None)
        others = ['xenhost2', 'xenhost3', 'xenhost4', 'xenhost5']
        members = {'xenhost1'}
        winners = 0
        for round_number in range(self.ROUNDS):
            # Each host asks for the opposite of what it is, through
            # alternating servers (and so different processes).
            requests = []
            for index, host in enumerate(others):
                action = 'remove_host' if host in members else 'add_host'
                requests.append((self.servers[index % len(self.servers)],
                                 path, {action: {'host': host}}))
            results = self.fire(requests)
            won = []
            for (server, _, body), (status, answer) in zip(requests, results):
                if status == 200:
                    won.append(body)
                else:
                    self.assertEqual(409, status, answer)
                    self.assertIn('in progress',
                                  answer['conflictingRequest']['message'])
            self.assertEqual(1, len(won), results)
            (action, value), = won[0].items()
            if action == 'add_host':
                members.add(value['host'])
            else:
                members.remove(value['host'])
            winners += 1
            # One pool call per winner: losers never reached XenServer.
            self.assertEqual(winners, len(self.pool_calls()))
            agg = self.assertAgrees(agg_id, 'active')
            self.assertEqual(members, set(agg['hosts']))
            self.fleet.settle()  # ejected hosts are back before the next
        self.assertEqual(self.ROUNDS, winners)

    def test_parallel_first_host(self):
        # Two hosts race to be the first: one becomes master, the other is
        # refused; nothing half-formed is left.
        agg_id = self.create_pool(self.servers[0], 'rack1', [])
        path = '/v2.1/os-aggregates/%d/action' % agg_id
        self.fleet.inject('pool.set_name_label', delay=0.3)
        results = self.fire([(self.servers[0], path,
                              {'add_host': {'host': 'xenhost1'}}),
                             (self.servers[1], path,
                              {'add_host': {'host': 'xenhost2'}})])
        self.assertEqual([200, 409], sorted(r[0] for r in results), results)
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(1, len(agg['hosts']))


class CrashRecoveryTest(ServersTestCase):
    """A server dies mid-operation; the aggregate is repaired against the
    real pool."""

    def crash_during_join(self, **fault):
        """Form a 2-host pool through server 0, start adding xenhost3 with
        a slow pool.join, kill server 0 while the aggregate is
        ``changing``.  Returns the aggregate id."""
        crashing = self.servers[0]
        agg_id = self.create_pool(crashing, 'rack1', ['xenhost1', 'xenhost2'])
        self.fleet.inject('pool.join', delay=1.0, **fault)
        path = '/v2.1/os-aggregates/%d/action' % agg_id

        def doomed_request():
            try:
                crashing.request('POST', path,
                                 {'add_host': {'host': 'xenhost3'}})
            except (OSError, http.client.HTTPException):
                pass  # the server dies under it: no answer comes

        worker = threading.Thread(target=doomed_request)
        worker.start()
        self.addCleanup(worker.join)
        deadline = time.monotonic() + 10
        while self.db.aggregate(agg_id)['operational_state'] != 'changing':
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        # The join has reached XenServer.
        while ('xenhost3', 'pool.join') not in self.fleet.call_log():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        crashing.crash()
        worker.join(10)
        stuck = self.db.aggregate(agg_id)
        self.assertEqual('changing', stuck['operational_state'])
        self.assertEqual('xenhost3', stuck['pending_host'])
        self.assertIsNotNone(stuck['task_owner'])
        # The survivor refuses changes: the operation looks in flight.
        status, answer = self.servers[1].request(
            'POST', path, {'add_host': {'host': 'xenhost4'}})
        self.assertEqual(409, status, answer)
        return agg_id

    def wait_for_pool(self, master, members):
        deadline = time.monotonic() + 10
        while self.fleet.pool_of(master)['members'] != members:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        self.fleet.settle()

    def test_restart_repairs_a_join_that_happened(self):
        agg_id = self.crash_during_join()
        # XenServer finished the join although its caller died.
        self.wait_for_pool('xenhost1', ['xenhost1', 'xenhost2', 'xenhost3'])
        self.servers[0].start()
        self.servers[0].wait_ready()
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'],
                         sorted(agg['hosts']))
        self.assertIn('Reconciled interrupted pool operations',
                      self.servers[0].output())
        # And the pool is usable again from any server.
        self.call(self.servers[1], 'POST',
                  '/v2.1/os-aggregates/%d/action' % agg_id,
                  {'add_host': {'host': 'xenhost4'}})
        self.assertAgrees(agg_id, 'active')

    def test_manage_reconcile_repairs_a_join_that_did_not_happen(self):
        agg_id = self.crash_during_join(action='half_done_join')
        self.wait_for_pool('xenhost1', ['xenhost1', 'xenhost2'])
        result = subprocess.run(
            [os.path.join(pool_fixtures.BIN, 'nova-aggregates-manage'),
             '--config-file', self.servers[1].config, 'aggregate',
             'reconcile'], capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('Reconciled aggregates: %d' % agg_id, result.stdout)
        agg = self.assertAgrees(agg_id, 'active')
        self.assertEqual(['xenhost1', 'xenhost2'], agg['hosts'])
        self.assertNotIn('last_error', agg['metadata'])
        self.assertEqual([], db_api.aggregate_get_by_state(self.db.context,
                                                           'changing'))
        self.call(self.servers[1], 'POST',
                  '/v2.1/os-aggregates/%d/action' % agg_id,
                  {'add_host': {'host': 'xenhost3'}})
        self.assertAgrees(agg_id, 'active')
