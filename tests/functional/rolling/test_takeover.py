"""A rolling maintenance task survives the death of the runner executing
it (api-contract §14): two real ``nova-aggregates-api`` nodes on one
database run task runners; the node that claimed the task is SIGKILLed
(master and worker at once) mid-evacuation, mid-action and mid-restore,
and the other node takes the task over once its lease expired and
finishes it from the step that did not finish.

Throughout, every guest is sampled from the simulator: each one that ran
keeps running, on exactly one host.  At the end the pool and the database
agree (``NothingLostMixin``), hosts finished before the kill were not done
again, and no host is left in maintenance.  The mid-evacuation case runs
on SQLite, PostgreSQL and MySQL/MariaDB (tooz's advisory-lock drivers);
the others on SQLite.
"""

import threading
import time

import testtools

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from tests.functional import backends
from tests.functional.backends import servers
from tests.functional import pool_fixtures
from tests.functional import test_pool_maintenance

GIB = 1024 ** 3
MIGRATE = 'VM.pool_migrate'
LEASE = 2
XENAPI = dict(pool_fixtures.XENAPI_OPTIONS, call_timeout=5.0,
              join_timeout=5.0)


class TakeoverTests(test_pool_maintenance.NothingLostMixin,
                    backends.ServiceDatabaseMixin):

    @classmethod
    def set_up_class(cls):
        cls.database.migrate()
        sections = {
            'DEFAULT': {'compute_driver': 'xenapi'},
            'xenapi': XENAPI,
            'maintenance': {'task_lease_seconds': LEASE,
                            'task_poll_interval': 0.2,
                            'host_command': 'sleep 3',
                            'migration_timeout': 30},
        }
        cls.nodes = [cls.use_class_fixture(servers.APIServer(
            cls.database.url, workers=1, sections=sections,
            name='node%d' % n)) for n in range(2)]

    def setUp(self):
        super().setUp()
        for node in self.nodes:
            self.addOnException(lambda exc_info, node=node: self.addDetail(
                node.name + '-log', testtools.content.text_content(
                    node.output()[-30000:])))
            if not node.running():
                node.start()
        self.use_service()
        self.ctx = context.get_admin_context()
        self.fleet = self.useFixture(
            test_pool_maintenance.MaintenanceFleetFixture(hosts=4)).fleet
        # Host names are unique per test: the database lives per class.
        prefix = 't%d-' % (id(self) % 100000)
        self.name = {sim.name: prefix + sim.name for sim in self.fleet.hosts}
        for sim in self.fleet.hosts:
            db_api.compute_host_create(self.ctx, self.name[sim.name], 'az1',
                                       sim.url)
        agg = self.call(0, 'POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': prefix + 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.call(0, 'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
                  {'set_metadata': {'metadata': {'hypervisor_pool': 'true'}}})
        for sim in self.fleet.hosts:
            self.call(0, 'POST', '/v2.1/os-aggregates/%d/action' %
                      self.agg_id, {'add_host': {'host': self.name[sim.name]}})
        self.guests, self.home = {}, {}
        for host, name in (('xenhost2', 'big'), ('xenhost2', 'small'),
                           ('xenhost3', 'cache'), ('xenhost4', 'app')):
            uuid = self.fleet.add_vm(host, name, memory=GIB)
            self.guests[name], self.home[uuid] = uuid, host
        self.running = {u: n for n, u in self.guests.items()}
        self.assertTrue(self.fleet.settle())

    # -- plumbing ---------------------------------------------------------------

    def call(self, node, method, path, body=None, expected=200):
        response = self.nodes[node].request(method, path, body)
        self.assertEqual(expected, response.status, response.body)
        return response.json()

    def aggregate(self):
        """The aggregate with the names the simulator knows (for
        NothingLostMixin)."""
        agg = db_api.aggregate_get(self.ctx, self.agg_id)
        sim = {ours: sim for sim, ours in self.name.items()}
        return dict(agg, hosts=[sim[h] for h in agg['hosts']], metadata={
            sim_key(k, sim): sim.get(v, v) if k == 'master_compute' else v
            for k, v in agg['metadata'].items()})

    def db_hosts(self):
        sim = {ours: sim for sim, ours in self.name.items()}
        return {sim[h['name']]: h for h in db_api.compute_host_get_all(
            self.ctx) if h['name'] in sim}

    def origins(self, host):
        return db_api.guest_origins_of(self.ctx, self.name[host])

    def task(self, task_id):
        return db_api.rolling_task_get(self.ctx, task_id)

    def wait_for(self, task_id, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            task = self.task(task_id)
            if predicate(task):
                return task
            time.sleep(0.02)
        self.fail('task %d never got there: %s' % (task_id, task))

    def owner_node(self, task):
        pid = int(task['owner'].split(':')[1])
        owners = [n for n, node in enumerate(self.nodes)
                  if pid in node.worker_pids()]
        self.assertEqual(1, len(owners), task['owner'])
        return owners[0]

    def sample_guests(self):
        """Sample every guest from the simulator until the returned stop()
        is called; stop() fails the test if any guest was ever not running
        on exactly one host."""
        problems, done = [], threading.Event()

        def sample():
            while not done.is_set():
                seen = {vm['uuid']: vm for vm in self.fleet.vms()}
                for uuid, name in self.running.items():
                    vm = seen.get(uuid)
                    if vm is None or vm['power_state'] != 'Running' or \
                            not vm['host']:
                        problems.append((name, vm))
                time.sleep(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()

        def stop():
            done.set()
            sampler.join(10)
            self.assertEqual([], problems[:5])
        return stop

    # -- the case ---------------------------------------------------------------

    def kill_owner_when(self, reached, host_action='none'):
        """Start a task on node 0, SIGKILL whichever node claimed it once
        ``reached(task)``; the other node finishes it.  Returns the task
        at the kill and at the end."""
        stop_sampling = self.sample_guests()
        body = {'rolling_maintenance': {'aggregate_id': self.agg_id,
                                        'host_action': host_action}}
        task_id = self.call(0, 'POST', '/v2.1/os-rolling-maintenance', body,
                            expected=202)['rolling_maintenance']['id']
        at_kill = self.wait_for(task_id, lambda t: t['owner'] and reached(t))
        dead = self.owner_node(at_kill)
        self.nodes[dead].kill()
        end = self.wait_for(task_id, lambda t: t['state'] in (
            'succeeded', 'failed'), timeout=120)
        stop_sampling()
        self.assertEqual('succeeded', end['state'], end)
        self.assertEqual(['done'] * 4, [h['state'] for h in end['hosts']])
        # The runner logs the end once it is recorded (and its taskflow
        # logbook is gone): the line may follow the state by a moment.
        line = 'Rolling maintenance task %d of aggregate %d succeeded' % (
            task_id, self.agg_id)
        deadline = time.monotonic() + 10
        while line not in self.nodes[1 - dead].output() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn(line, self.nodes[1 - dead].output())
        # Hosts done before the kill were not done again.
        for before, after in zip(at_kill['hosts'], end['hosts']):
            if before['state'] == 'done':
                self.assertEqual(before['finished_at'], after['finished_at'])
        # The killed runner's XenServer task (its migration) stays behind:
        # no client is left to destroy it.
        where = self.assertNothingLost(tasks=False)
        self.assertEqual(self.home, where)
        return at_kill, end

    def test_sigkill_mid_evacuation(self):
        self.fleet.inject(MIGRATE, delay=0.5, times=None)
        big = self.guests['big']
        at_kill, _ = self.kill_owner_when(lambda t: any(
            vm['uuid'] == big and vm['migrating_to']
            for vm in self.fleet.vms()))
        self.assertEqual('evacuating', at_kill['hosts'][1]['state'])


class SlowStepsTests(TakeoverTests):

    def test_sigkill_mid_action(self):
        at_kill, end = self.kill_owner_when(
            lambda t: t['hosts'][1]['state'] == 'acting',
            host_action='command')
        self.assertEqual(['done', 'acting', 'pending', 'pending'],
                         [h['state'] for h in at_kill['hosts']])

    def test_sigkill_mid_restore(self):
        self.fleet.inject(MIGRATE, delay=0.5, times=None)
        at_kill, _ = self.kill_owner_when(
            lambda t: t['hosts'][1]['state'] == 'restoring' and any(
                vm['migrating_to'] for vm in self.fleet.vms()))
        self.assertEqual('restoring', at_kill['hosts'][1]['state'])


def sim_key(key, sim):
    prefix = 'xenapi_host_uuid:'
    if key.startswith(prefix):
        return prefix + sim.get(key[len(prefix):], key[len(prefix):])
    return key


class TestTakeoverSQLite(SlowStepsTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.SQLITE


class TestTakeoverPostgreSQL(TakeoverTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.POSTGRESQL


class TestTakeoverMySQL(TakeoverTests, backends.SharedDatabaseTestCase):
    BACKEND = backends.MYSQL
