"""Host maintenance of pool members under faults, end to end: HTTP API ->
HostMaintenance -> xenapi driver -> XenAPI SDK -> XML-RPC -> XenServer
simulator (api-contract §13: "whatever fails, every guest that was running
is running on exactly one host, and the database agrees with the pool").

Every fault the simulator can raise -- a XenServer error code, a call
slower than ``[xenapi] call_timeout``, a cut connection, an HTTP 500, a
malformed answer, an expired session, a migration task that hangs, a late
master hand-over, an endpoint that stops answering -- is injected at each
step of entering and leaving maintenance: disable, plan (guest listing,
free memory), each migration (first, middle, last), the master hand-over,
enabling the host again after a failure, the migration back.  Real server
processes are killed (SIGKILL) mid-evacuation and mid-hand-over, then
repaired by ``nova-aggregates-manage aggregate reconcile`` or a restart,
and race each other for one pool.

After every case ``assertNothingLost`` reads the pool back through a XenAPI
session of its own and through the simulator's fleet view, not only
through our API:

* every guest that was running runs, on exactly one host, and no
  migration is left under way;
* the database agrees with the pool: members, ``master_compute``, host
  uuids, each host's status equal to XenServer's ``host.enabled``, the
  maintenance modes, and the origins it keeps for the migration back;
* the aggregate is not left ``changing``.

The answers are checked too: their status (409 refused, 502 unreachable,
504 too slow) and a message that names the guest, the XenServer code and
what moved.

Evacuation order: xenhost2 runs big (3 GiB), mid (2 GiB) and small (1 GiB),
which move in that order (largest first): big to xenhost3, mid and small
to xenhost1 (the most free memory, counting the plan).
"""

import contextlib
import os
import subprocess
import threading
import time

import fixtures
import testtools
import testtools.content
import XenAPI

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.xenserver_sim import Fleet
from tests import base
from tests import fixtures as na_fixtures
from tests.functional import backends
from tests.functional import pool_fixtures
from tests.support import concurrency

GIB = 1024 ** 3
MIGRATE = 'Async.VM.pool_migrate'
#: XenAPI calls that change something.
WRITES = ('host.disable', 'host.enable', MIGRATE, 'VM.pool_migrate',
          'pool.designate_new_master', 'pool.join', 'pool.join_force',
          'pool.eject', 'task.cancel')
#: Faults that cut the wire (the simulator answers so before doing any
#: work), and how many calls each must hit to get through to us:
#: ``xmlrpc.client`` sends a request again once when the connection was
#: dropped.
WIRE_FAULTS = {'drop_connection': 2, 'http_500': 1, 'malformed': 1}
POOL = ('xenhost1', 'xenhost2', 'xenhost3')

#: Small, so that timeouts come quickly; the simulator answers in
#: milliseconds.
XENAPI = {'call_timeout': 0.5, 'connect_timeout': 0.5, 'join_timeout': 1.0,
          'poll_interval': 0.01}
MIGRATION_TIMEOUT = 0.5
#: A delay that outlasts ``call_timeout`` but not ``call_timeout +
#: join_timeout``: a change that slow is confirmed by reading it back.
SLOW = 0.8
#: Longer than any test: a late effect that never lands while we look.
NEVER = 60

UNREACHABLE = 'cannot be reached'
NO_ANSWER = 'did not answer within'
ENABLED_AGAIN = 'The host is enabled again.'
STAYS_DISABLED = 'The host stays disabled'


class MaintenanceFleetFixture(fixtures.Fixture):
    """A simulator fleet on 127.0.0.x with tiny delays (``fleet_kwargs``
    go to Fleet as well, e.g. ``reboot_delay``)."""

    def __init__(self, hosts=4, **fleet_kwargs):
        super().__init__()
        self.hosts = hosts
        self.fleet_kwargs = fleet_kwargs

    def _setUp(self):
        self.fleet = Fleet(hosts=self.hosts, username='root',
                           password=pool_fixtures.PASSWORD,
                           bind_address='127.0.0.1', port=0,
                           join_delay=0.02, eject_delay=0.02,
                           distinct_addresses=True, **self.fleet_kwargs)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)


class NothingLostMixin:
    """The invariant, read back from XenServer.  Needs ``self.fleet``,
    ``self.aggregate()``, ``self.running`` ({vm uuid: name} of the guests
    that ran before the case) and ``self.home`` ({vm uuid: host})."""

    # -- XenServer through a XenAPI session of our own -----------------------

    def sdk(self, host):
        session = XenAPI.Session(self.fleet.host(host).url)
        session.login_with_password('root', pool_fixtures.PASSWORD)
        self.addCleanup(session('close'))
        return session.xenapi

    def masters(self):
        return sorted({p['master'] for p in self.fleet.pools()})

    def residence(self):
        """{vm uuid: host name} of every running guest, read on each pool
        master from ``host.get_resident_VMs``; fails unless each guest is
        resident on exactly one host and its own record agrees."""
        seen = {}
        for master in self.masters():
            api = self.sdk(master)
            for host_ref, host in api.host.get_all_records().items():
                for vm_ref in api.host.get_resident_VMs(host_ref):
                    vm = api.VM.get_record(vm_ref)
                    if vm['is_control_domain']:
                        continue
                    self.assertNotIn(vm['uuid'], seen,
                                     'resident on two hosts')
                    self.assertEqual((host_ref, 'Running'),
                                     (vm['resident_on'], vm['power_state']))
                    seen[vm['uuid']] = host['hostname']
        return seen

    def hypervisor_enabled(self):
        """{host name: host.enabled} as the pool masters answer."""
        return {host['hostname']: host['enabled']
                for master in self.masters()
                for host in self.sdk(master).host.get_all_records().values()}

    def xen_tasks(self):
        return [t for master in self.masters()
                for t in self.sdk(master).task.get_all()]

    # -- the database, directly ---------------------------------------------

    def db_hosts(self):
        ctx = context.get_admin_context()
        return {h['name']: h for h in db_api.compute_host_get_all(ctx)}

    def origins(self, host):
        return db_api.guest_origins_of(context.get_admin_context(), host)

    # -- the invariant --------------------------------------------------------

    def assertNothingLost(self, maintenance=(), evacuated=None, tasks=True,
                          settle=True):
        """The invariant after a case; returns {vm uuid: host}.

        ``maintenance``: the hosts that are in maintenance now.
        ``evacuated``: a host whose evacuation was tried last; each of its
        guests that runs elsewhere now has its origin recorded.  ``tasks``:
        no XenServer task is left behind.  ``settle``: wait for delayed
        effects first (not while one is meant to be pending).
        """
        if settle:
            self.assertTrue(self.fleet.settle(10))
        where = self.residence()
        self.assertEqual(sorted(self.running), sorted(where))
        for vm in self.fleet.vms():
            if vm['uuid'] in self.running:
                self.assertEqual(
                    ('Running', where[vm['uuid']], None),
                    (vm['power_state'], vm['host'], vm['migrating_to']), vm)
        # The pool is what the database records.
        agg = self.aggregate()
        self.assertNotEqual('changing', agg['operational_state'])
        metadata = agg['metadata']
        pool = self.fleet.pool_of(metadata['master_compute'])
        self.assertEqual(str(agg['id']),
                         pool['other_config'].get('nova_aggregate_id'))
        self.assertEqual(sorted(agg['hosts']), pool['members'])
        self.assertEqual(pool['master'], metadata['master_compute'])
        self.assertEqual(
            {'xenapi_host_uuid:' + h: self.fleet.host(h).uuid
             for h in agg['hosts']},
            {k: v for k, v in metadata.items()
             if k.startswith('xenapi_host_uuid:')})
        # Each host's recorded status is XenServer's host.enabled (the
        # fleet's view says the same); maintenance as expected.
        enabled = self.hypervisor_enabled()
        self.assertEqual(enabled, {h['name']: h['enabled']
                                   for h in self.fleet.host_states()})
        hosts = self.db_hosts()
        self.assertEqual(
            {h: 'enabled' if on else 'disabled' for h, on in enabled.items()},
            {h: row['status'] for h, row in hosts.items()})
        self.assertEqual(
            {h: 'on_maintenance' if h in maintenance else 'off_maintenance'
             for h in hosts},
            {h: row['maintenance'] for h, row in hosts.items()})
        for host in maintenance:
            self.assertEqual([], [u for u, h in where.items() if h == host])
        # Every origin recorded is of a guest that runs where it was moved
        # (or back home already: the next migration back forgets it).
        for host in hosts:
            for origin in self.origins(host):
                self.assertIn(where.get(origin['vm_uuid']),
                              (origin['moved_to'], host), origin)
        if evacuated is not None:
            away = {u for u, h in self.home.items()
                    if h == evacuated and where[u] != evacuated}
            self.assertEqual(away, {o['vm_uuid']
                                    for o in self.origins(evacuated)})
        if tasks:
            self.assertEqual([], self.xen_tasks())
        return where


class PoolMaintenanceTestCase(NothingLostMixin, base.JSONRequestMixin,
                              testtools.TestCase):
    """Pool aggregate ``rack``: xenhost1 (master), xenhost2, xenhost3;
    xenhost4 registered, in no aggregate.  Guests: big, mid, small on
    xenhost2, app (1 GiB) on xenhost1, solo on xenhost4."""

    MAX_CONCURRENT = 1

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(MaintenanceFleetFixture()).fleet
        pool_fixtures._ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        for name, value in dict(pool_fixtures.XENAPI_OPTIONS,
                                **XENAPI).items():
            conf.config(**{name: value, 'group': 'xenapi'})
        self.conf = conf
        conf.config(migration_timeout=MIGRATION_TIMEOUT,
                    max_concurrent_migrations=self.MAX_CONCURRENT,
                    group='maintenance')
        # After the fleet: the API's sessions go before the fleet stops.
        self.api = self.useFixture(na_fixtures.APIFixture(
            compute_driver='xenapi'))
        for number, host in enumerate(self.fleet.hosts, 1):
            self.api.register_host(host.name, pool_fixtures.zone_of(number),
                                   host.url)
        agg = self.call('POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.action('set_metadata', {'metadata': {'hypervisor_pool': 'true'}})
        with self.patient():
            for host in POOL:
                self.action('add_host', {'host': host})
        self.guests, self.home = {}, {}
        for host, name, size in (('xenhost2', 'big', 3),
                                 ('xenhost2', 'mid', 2),
                                 ('xenhost2', 'small', 1),
                                 ('xenhost1', 'app', 1),
                                 ('xenhost4', 'solo', 1)):
            uuid = self.fleet.add_vm(host, name, memory=size * GIB)
            self.guests[name] = uuid
            self.home[uuid] = host
        self.running = {u: n for n, u in self.guests.items()}
        self.assertTrue(self.fleet.settle())
        self.fleet.clear_call_log()

    @contextlib.contextmanager
    def patient(self):
        """Normal timeouts for a set-up step (see patient_timeouts), and a
        migration timeout to match."""
        self.conf.config(migration_timeout=MIGRATION_TIMEOUT * 10,
                         group='maintenance')
        try:
            with pool_fixtures.patient_timeouts(
                    self.conf, self.api.services, XENAPI):
                yield
        finally:
            self.conf.config(migration_timeout=MIGRATION_TIMEOUT,
                             group='maintenance')

    # -- HTTP -------------------------------------------------------------------

    def request(self, method, path, body=None):
        return self.api.request(method, path, body)

    def call(self, method, path, body=None, expected=200):
        return self.json_request(method, path, body, expected=expected)

    def action(self, name, value, expected=200):
        return self.call('POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
                         {name: value}, expected)

    def aggregate(self):
        """The aggregate, with its operational state (legacy surface)."""
        return self.call('GET', '/v2/admin/os-aggregates/%d' % self.agg_id
                         )['aggregate']

    def put(self, host, body, expected=200):
        return self.call('PUT', '/v2.1/os-hosts/%s' % host, body, expected)

    def enter(self, host='xenhost2', **extra):
        return self.put(host, dict({'maintenance_mode': 'enable'}, **extra))

    def leave(self, host='xenhost2', **extra):
        return self.put(host, dict({'maintenance_mode': 'disable'}, **extra))

    def fails(self, status, *parts, host='xenhost2', body=None):
        """PUT os-hosts/``host`` (default: enter maintenance) answers a
        ``status`` fault whose message holds each of ``parts``."""
        answer = self.put(host, body or {'maintenance_mode': 'enable'},
                          expected=status)
        (_, fault), = answer.items()
        self.assertEqual(status, fault['code'])
        for part in parts:
            self.assertIn(part, fault['message'])
        return fault['message']

    # -- shorthands -------------------------------------------------------------

    def guest(self, name):
        return '%s (%s)' % (name, self.guests[name])

    def moved(self, *moves):
        """The "Guests moved: ..." part of a message."""
        return 'Guests moved: %s.' % (', '.join(
            '%s to %s' % (self.guest(name), to) for name, to in moves)
            or 'none')

    def where(self, name):
        return self.fleet.vm_location(self.guests[name])

    def nth_migration(self, n, **fault):
        """Migrations 1..n-1 go through; the n-th gets ``fault``."""
        if n > 1:
            # A harmless rule that the first n-1 migrations use up.
            self.fleet.inject(MIGRATE, delay=0.001, times=n - 1)
        self.fleet.inject(MIGRATE, **fault)

    def while_migrating(self, name, act, n=1, took=0.2):
        """The n-th migration (of guest ``name``) takes ``took`` seconds;
        ``act()`` runs in a thread while it is under way."""
        if n > 1:
            self.fleet.inject(MIGRATE, delay=0.001, times=n - 1)
        self.fleet.inject(MIGRATE, delay=took)
        uuid = self.guests[name]

        def watch():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if any(vm['uuid'] == uuid and vm['migrating_to']
                       for vm in self.fleet.vms()):
                    act()
                    return
                time.sleep(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        self.addCleanup(watcher.join, 10)
        return watcher

    def writes(self):
        return [c for c in self.fleet.call_log() if c[1] in WRITES]

    def assertAllBack(self):
        """Clear the faults: maintenance works again, in and out."""
        self.fleet.clear_faults()
        self.enter()
        self.assertNothingLost(maintenance=('xenhost2',),
                               evacuated='xenhost2')
        back = self.leave()
        where = self.assertNothingLost()
        for name in ('big', 'mid', 'small'):
            self.assertEqual('xenhost2', where[self.guests[name]])
        return back


class DryRunTest(PoolMaintenanceTestCase):

    def state(self):
        """The fleet's hosts and guests, but for the count of logins (the
        plan's first call may log in: that changes nothing)."""
        hosts = [{k: v for k, v in host.items() if k != 'logins'}
                 for host in self.fleet.host_states()]
        return hosts, self.fleet.vms()

    def assertNothingWritten(self, before):
        self.assertEqual([], self.writes())
        self.assertEqual(before, self.state())
        self.assertNothingLost()

    def test_plan_of_a_member_changes_nothing(self):
        before = self.state()
        result = self.enter(dry_run=True)
        self.assertEqual(('enabled', 'off_maintenance'),
                         (result['status'], result['maintenance_mode']))
        self.assertEqual([('big', 'xenhost3', 3072), ('mid', 'xenhost1', 2048),
                          ('small', 'xenhost1', 1024)],
                         [(p['name'], p['to'], p['memory_mb'])
                          for p in result['plan']])
        self.assertNotIn('new_master', result)
        self.assertNothingWritten(before)
        # The plan is what then happens.
        moved = self.enter()['evacuated']
        self.assertEqual([(p['vm'], p['to']) for p in result['plan']],
                         [(m['vm'], m['to']) for m in moved])

    def test_plan_of_the_master_names_the_new_master(self):
        before = self.state()
        result = self.enter('xenhost1', dry_run=True)
        self.assertEqual('xenhost3', result['new_master'])
        self.assertEqual([('app', 'xenhost3')],
                         [(p['name'], p['to']) for p in result['plan']])
        self.assertNothingWritten(before)
        self.assertEqual('xenhost1', self.fleet.pool_of('xenhost1')['master'])

    def test_refused_plan_changes_nothing(self):
        # Room for big and mid only.
        for host in ('xenhost1', 'xenhost3'):
            self.fleet.configure_host(host, memory=(4 + 0.25 + 3.5) * GIB)
        before = self.state()
        message = self.fails(409, 'HOST_NOT_ENOUGH_FREE_MEMORY',
                             'Guest %s has no target' % self.guest('small'),
                             'nothing was moved',
                             body={'maintenance_mode': 'enable',
                                   'dry_run': True})
        self.assertNotIn(self.guest('big'), message)
        self.assertNothingWritten(before)


class HappyPathTest(PoolMaintenanceTestCase):

    def test_evacuate_and_restore_a_member(self):
        result = self.enter()
        self.assertEqual(('disabled', 'on_maintenance'),
                         (result['status'], result['maintenance_mode']))
        where = self.assertNothingLost(maintenance=('xenhost2',),
                                       evacuated='xenhost2')
        self.assertEqual({m['vm']: m['to'] for m in result['evacuated']},
                         {self.guests[n]: where[self.guests[n]]
                          for n in ('big', 'mid', 'small')})
        # Live: every migration was a live pool migration, one at a time.
        self.assertEqual(['host.disable', MIGRATE, MIGRATE, MIGRATE],
                         [m for _, m in self.writes()])
        back = self.leave()
        self.assertEqual(['big', 'mid', 'small'],
                         [r['name'] for r in back['restored']])
        where = self.assertNothingLost()
        self.assertEqual(self.home, where)

    def test_master_hand_over(self):
        result = self.enter('xenhost1')
        self.assertEqual([('app', 'xenhost3')],
                         [(m['name'], m['to']) for m in result['evacuated']])
        self.assertNothingLost(maintenance=('xenhost1',),
                               evacuated='xenhost1')
        self.assertEqual('xenhost3',
                         self.aggregate()['metadata']['master_compute'])
        # The old master refuses logins and names the new one.
        session = XenAPI.Session(self.fleet.host('xenhost1').url)
        self.addCleanup(session('close'))
        exc = self.assertRaises(XenAPI.Failure, session.login_with_password,
                                'root', pool_fixtures.PASSWORD)
        self.assertEqual(['HOST_IS_SLAVE',
                          self.fleet.host('xenhost3').address], exc.details)
        # Back as a member; the master role stays where it went.
        back = self.leave('xenhost1')
        self.assertEqual(['app'], [r['name'] for r in back['restored']])
        self.assertEqual(self.home, self.assertNothingLost())
        self.assertEqual('xenhost3',
                         self.aggregate()['metadata']['master_compute'])

    def test_faults_that_are_absorbed(self):
        # An expired session (the SDK logs in again) and a connection cut
        # once (xmlrpc sends again) at every step change nothing.
        for method in ('host.disable', 'host.get_resident_VMs',
                       'host.compute_free_memory', MIGRATE, 'task.get_status',
                       'host.enable'):
            self.fleet.inject(method, action='expire_session', times=1)
            self.fleet.inject(method, action='drop_connection', times=1)
        self.enter()
        self.assertNothingLost(maintenance=('xenhost2',),
                               evacuated='xenhost2')
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost())
        self.assertEqual([], self.fleet.faults())


class DisableStepTest(PoolMaintenanceTestCase):
    """host.disable, the first step: nothing has moved yet."""

    def test_refused(self):
        self.fleet.inject('host.disable',
                          error=['HOST_IN_EMERGENCY_MODE', 'OpaqueRef:x'])
        message = self.fails(409, 'disable host xenhost2: '
                             'HOST_IN_EMERGENCY_MODE', self.moved())
        # Refused: nothing to enable again.
        self.assertNotIn(ENABLED_AGAIN, message)
        self.assertEqual([('xenhost1', 'host.disable')], self.writes())
        self.assertNothingLost(evacuated='xenhost2')

    def test_wire_faults(self):
        for action, times in WIRE_FAULTS.items():
            self.fleet.inject('host.disable', action=action, times=times)
            self.fails(502, 'xenhost1', UNREACHABLE, self.moved(),
                       ENABLED_AGAIN)
            self.assertNotIn(MIGRATE, [m for _, m in self.writes()])
            self.assertNothingLost(evacuated='xenhost2')

    def test_slow_disable_is_confirmed(self):
        self.fleet.inject('host.disable', delay=SLOW)
        self.enter()
        self.assertNothingLost(maintenance=('xenhost2',),
                               evacuated='xenhost2')

    def test_master_unreachable(self):
        # Neither the disable nor enabling again reach it: as the disable
        # got no answer, the host stays recorded as it was, enabled.
        self.fleet.stop_host('xenhost1')
        self.fails(502, 'xenhost1', UNREACHABLE, self.moved(),
                   'The host is recorded enabled (enabling it again failed')
        self.fleet.start_host('xenhost1')
        self.assertNothingLost(evacuated='xenhost2')
        self.assertAllBack()


class PlanStepTest(PoolMaintenanceTestCase):
    """The reads of the plan (the host disabled already): the guest
    listing and the targets' free memory."""

    READS = ('host.get_resident_VMs', 'VM.get_record',
             'host.compute_free_memory')

    def test_refused(self):
        for method in self.READS:
            self.fleet.inject(method, error=['INTERNAL_ERROR', method])
            self.fails(409, 'INTERNAL_ERROR %s' % method, 'host xenhost',
                       self.moved(), ENABLED_AGAIN)
            self.assertNothingLost(evacuated='xenhost2')
        self.assertNotIn(MIGRATE, [m for _, m in self.writes()])

    def test_wire_faults(self):
        for method in self.READS:
            for action, times in WIRE_FAULTS.items():
                self.fleet.inject(method, action=action, times=times)
                self.fails(502, 'xenhost1', UNREACHABLE, self.moved(),
                           ENABLED_AGAIN)
                self.assertNothingLost(evacuated='xenhost2')
        self.assertNotIn(MIGRATE, [m for _, m in self.writes()])

    def test_slow_reads(self):
        for method in ('host.get_resident_VMs', 'host.compute_free_memory'):
            self.fleet.inject(method, delay=SLOW)
            self.fails(504, 'xenhost1', NO_ANSWER, self.moved(),
                       ENABLED_AGAIN)
            self.assertNothingLost(evacuated='xenhost2')
        self.assertAllBack()

    def test_no_room_refuses_everything(self):
        # xapi's own free memory decides: room for big and mid only.
        for host in ('xenhost1', 'xenhost3'):
            self.fleet.configure_host(host, memory=(4 + 0.25 + 3.5) * GIB)
        message = self.fails(409, 'HOST_NOT_ENOUGH_FREE_MEMORY',
                             'Guest %s has no target' % self.guest('small'),
                             'nothing was moved', 'enabled as before')
        self.assertNotIn(self.guest('mid'), message)
        self.assertNotIn(MIGRATE, [m for _, m in self.writes()])
        self.assertNothingLost(evacuated='xenhost2')


class MigrationStepTest(PoolMaintenanceTestCase):
    """A migration fails part-way: the guests moved before it stay where
    they run, the host is enabled again, the answer says what moved."""

    BEFORE = {1: (), 2: (('big', 'xenhost3'),),
              3: (('big', 'xenhost3'), ('mid', 'xenhost1'))}
    ORDER = {1: ('big', 'xenhost3'), 2: ('mid', 'xenhost1'),
             3: ('small', 'xenhost1')}

    def refused(self, n, code):
        name, to = self.ORDER[n]
        self.nth_migration(n, error=[code, 'OpaqueRef:vm', 'detail'])
        self.fails(409, 'live-migrate guest %s to host %s: %s' % (
            self.guest(name), to, code), self.moved(*self.BEFORE[n]),
            ENABLED_AGAIN, 'Guest %s runs on xenhost2.' % name)
        self.assertNothingLost(evacuated='xenhost2')
        self.assertEqual('xenhost2', self.where(name))

    def test_first_refused(self):
        self.refused(1, 'VM_MIGRATE_FAILED')
        self.assertAllBack()

    def test_middle_refused(self):
        self.refused(2, 'HOST_NOT_ENOUGH_FREE_MEMORY')
        # A second try moves the rest; the way back brings all three.
        self.assertAllBack()

    def test_last_refused(self):
        self.refused(3, 'VM_BAD_POWER_STATE')

    def test_other_codes(self):
        for n, code in ((1, 'HOST_OFFLINE'), (2, 'OTHER_OPERATION_IN_PROGRESS'),
                        (3, 'VM_REQUIRES_SR')):
            self.refused(n, code)
            self.leave()  # what moved comes back
            self.assertEqual(self.home, self.assertNothingLost())

    def hangs(self, n):
        name, to = self.ORDER[n]
        self.nth_migration(n, action='hang')
        self.fails(504, 'Live migration of guest %s to host %s did not '
                   'finish within %s seconds and was cancelled' % (
                       self.guest(name), to, MIGRATION_TIMEOUT),
                   self.moved(*self.BEFORE[n]), ENABLED_AGAIN)
        self.assertNothingLost(evacuated='xenhost2')
        self.assertEqual('xenhost2', self.where(name))
        self.assertIn(('xenhost1', 'task.cancel'), self.writes())

    def test_first_hangs(self):
        self.hangs(1)

    def test_middle_hangs(self):
        self.hangs(2)
        self.assertAllBack()

    def test_last_hangs(self):
        self.hangs(3)

    def test_wire_fault_on_the_migration_call(self):
        # The call never reached xapi: the guest did not move.
        for n, (action, times) in zip((1, 2, 3), WIRE_FAULTS.items()):
            name, to = self.ORDER[n]
            self.nth_migration(n, action=action, times=times)
            self.fails(502, 'Live migration of guest %s to %s failed' % (
                self.guest(name), to), 'xenhost1', UNREACHABLE,
                self.moved(*self.BEFORE[n]), ENABLED_AGAIN)
            self.assertNothingLost(evacuated='xenhost2')
            self.leave()
            self.assertEqual(self.home, self.assertNothingLost())

    def test_outage_while_the_migration_runs(self):
        # The connection fails while big migrates: xapi goes on and big
        # arrives.  The answer counts it as moved, its origin is kept.
        self.fleet.inject('task.get_status', action='drop_connection',
                          times=2)
        self.fails(502, 'Live migration of guest %s to xenhost3 failed' %
                   self.guest('big'), UNREACHABLE,
                   self.moved(('big', 'xenhost3')), ENABLED_AGAIN)
        self.assertNothingLost(evacuated='xenhost2')
        self.assertEqual('xenhost3', self.where('big'))
        self.assertAllBack()

    def test_target_becomes_unreachable_while_migrating(self):
        self.while_migrating('big', lambda: self.fleet.stop_host('xenhost3'))
        self.fails(409, 'live-migrate guest %s to host xenhost3: '
                   'HOST_OFFLINE' % self.guest('big'), self.moved(),
                   ENABLED_AGAIN)
        self.fleet.start_host('xenhost3')
        self.assertNothingLost(evacuated='xenhost2')
        self.assertAllBack()

    def test_target_unreachable_from_the_start(self):
        # Everything is asked of the master, which still counts xenhost3
        # in: its migration is the one refused.
        self.fleet.stop_host('xenhost3')
        self.fails(409, 'HOST_OFFLINE', self.guest('big'), self.moved())
        self.fleet.start_host('xenhost3')
        self.assertNothingLost(evacuated='xenhost2')

    def test_target_disabled_behind_our_back(self):
        def disable_xenhost1():
            api = self.sdk('xenhost1')
            api.host.disable(api.host.get_by_uuid(
                self.fleet.host('xenhost1').uuid))

        self.while_migrating('big', disable_xenhost1)
        self.fails(409, 'live-migrate guest %s to host xenhost1: '
                   'HOST_DISABLED' % self.guest('mid'),
                   self.moved(('big', 'xenhost3')), ENABLED_AGAIN)
        api = self.sdk('xenhost1')
        api.host.enable(api.host.get_by_uuid(self.fleet.host('xenhost1').uuid))
        self.assertNothingLost(evacuated='xenhost2')

    def test_master_becomes_unreachable_while_migrating(self):
        # The master (which serves every call) goes away while big
        # migrates: nothing can be asked any more, not even where big is
        # or to enable the host again.  xapi finishes the migration.
        self.while_migrating('big', lambda: self.fleet.stop_host('xenhost1'))
        message = self.fails(502, 'Live migration of guest %s to xenhost3 '
                             'failed' % self.guest('big'), 'xenhost1',
                             UNREACHABLE, 'Where guest big runs could not '
                             'be read', self.moved(), STAYS_DISABLED)
        self.assertNotIn(ENABLED_AGAIN, message)
        self.fleet.start_host('xenhost1')
        # The database says what XenServer holds: disabled.  (The task of
        # the migration that lost its caller stays until xapi's GC.)
        self.assertNothingLost(tasks=False)
        self.assertEqual('xenhost3', self.where('big'))
        self.assertEqual('disabled', self.db_hosts()['xenhost2']['status'])
        # Once it answers again, an admin enables it, and the evacuation
        # can be tried again.
        self.put('xenhost2', {'status': 'enable'})
        self.assertNothingLost(tasks=False)
        moved = self.enter()['evacuated']
        self.assertEqual(['mid', 'small'], [m['name'] for m in moved])
        self.assertNothingLost(maintenance=('xenhost2',), tasks=False)

    def test_own_endpoint_down_changes_nothing(self):
        # Everything about a member is asked of the master.
        self.while_migrating('big', lambda: self.fleet.stop_host('xenhost2'))
        self.enter()
        self.assertEqual({'xenhost1'}, {h for h, _ in self.fleet.call_log()})
        self.fleet.start_host('xenhost2')
        self.assertNothingLost(maintenance=('xenhost2',),
                               evacuated='xenhost2')


class ConcurrentMigrationFailureTest(PoolMaintenanceTestCase):
    """Two migrations at once: when one fails, the other still finishes
    and counts as moved; nothing new starts."""

    MAX_CONCURRENT = 2

    def test_one_of_two_refused(self):
        # big and mid start together; whichever asks first is refused.
        # small starts only if the other one finished before that.
        self.fleet.inject(MIGRATE, error=['VM_MIGRATE_FAILED', 'x'])
        message = self.fails(409, 'VM_MIGRATE_FAILED', ENABLED_AGAIN)
        where = self.assertNothingLost(evacuated='xenhost2')
        names = ('big', 'mid', 'small')
        refused, = [n for n in names[:2]
                    if where[self.guests[n]] == 'xenhost2']
        self.assertIn('live-migrate guest %s' % self.guest(refused), message)
        moved = [(n, where[self.guests[n]]) for n in names
                 if where[self.guests[n]] != 'xenhost2']
        self.assertIn(moved[0][0], names[:2])
        self.assertIn(self.moved(*moved), message)
        # Every migration started moved, but the refused one.
        self.assertEqual(1 + len(moved),
                         [m for _, m in self.writes()].count(MIGRATE))
        self.assertAllBack()


class HandOverStepTest(PoolMaintenanceTestCase):
    """The pool master enters maintenance: its role goes first."""

    def assertMaster(self, name):
        self.assertEqual(name, self.fleet.pool_of('xenhost1')['master'])
        self.assertEqual(name, self.aggregate()['metadata']['master_compute'])

    def test_refused(self):
        self.fleet.inject('pool.designate_new_master',
                          error=['HOST_OFFLINE', 'OpaqueRef:x'])
        self.fails(409, 'hand the master role to host xenhost3: HOST_OFFLINE',
                   self.moved(), ENABLED_AGAIN, host='xenhost1')
        self.assertMaster('xenhost1')
        self.assertNothingLost(evacuated='xenhost1')

    def test_new_master_unreachable(self):
        self.fleet.stop_host('xenhost3')
        self.fails(409, 'HOST_OFFLINE', self.moved(), ENABLED_AGAIN,
                   host='xenhost1')
        self.fleet.start_host('xenhost3')
        self.assertMaster('xenhost1')
        self.assertNothingLost(evacuated='xenhost1')

    def test_wire_faults(self):
        for action, times in WIRE_FAULTS.items():
            self.fleet.inject('pool.designate_new_master', action=action,
                              times=times)
            self.fails(502, 'xenhost1', UNREACHABLE, self.moved(),
                       ENABLED_AGAIN, host='xenhost1')
            self.assertMaster('xenhost1')
            self.assertNothingLost(evacuated='xenhost1')

    def test_late_hand_over_is_awaited(self):
        self.fleet.inject('pool.designate_new_master',
                          action='late_designate', delay=0.3)
        self.enter('xenhost1')
        self.assertMaster('xenhost3')
        self.assertNothingLost(maintenance=('xenhost1',),
                               evacuated='xenhost1')

    def test_hand_over_not_seen_in_time(self):
        self.fleet.inject('pool.designate_new_master',
                          action='late_designate', delay=NEVER)
        self.fails(504, 'xenhost3 as master and xenhost1 as member did not '
                   'answer so', self.moved(), ENABLED_AGAIN, host='xenhost1')
        # (The hand-over is still pending in the simulator.)
        self.assertMaster('xenhost1')
        self.assertNothingLost(evacuated='xenhost1', settle=False)

    def test_migration_fails_after_the_hand_over(self):
        # The role has gone: master_compute follows the real pool although
        # the request failed, and the old master answers HOST_IS_SLAVE.
        self.fleet.inject(MIGRATE, error=['VM_MIGRATE_FAILED', 'x'])
        self.fails(409, 'VM_MIGRATE_FAILED', self.guest('app'),
                   self.moved(), ENABLED_AGAIN, host='xenhost1')
        self.assertMaster('xenhost3')
        self.assertNothingLost(evacuated='xenhost1')
        self.assertEqual([('xenhost1', 'host.disable'),
                          ('xenhost1', 'pool.designate_new_master'),
                          ('xenhost3', MIGRATE), ('xenhost3', 'host.enable')],
                         self.writes())
        # Now a member, it enters maintenance with no hand-over.
        self.enter('xenhost1')
        self.assertMaster('xenhost3')
        self.assertNothingLost(maintenance=('xenhost1',),
                               evacuated='xenhost1')


class EnableAgainStepTest(PoolMaintenanceTestCase):
    """Enabling the host again after a failed evacuation fails too: the
    database then records it disabled, as XenServer holds it."""

    def fail_middle_and(self, **fault):
        self.nth_migration(2, error=['VM_MIGRATE_FAILED', 'x'])
        self.fleet.inject('host.enable', **fault)

    def test_refused(self):
        self.fail_middle_and(error=['HOST_IN_EMERGENCY_MODE'])
        message = self.fails(409, 'VM_MIGRATE_FAILED', self.guest('mid'),
                             self.moved(('big', 'xenhost3')), STAYS_DISABLED,
                             'HOST_IN_EMERGENCY_MODE')
        self.assertNotIn(ENABLED_AGAIN, message)
        self.assertNothingLost(evacuated='xenhost2')
        row = self.db_hosts()['xenhost2']
        self.assertEqual(('disabled', 'off_maintenance'),
                         (row['status'], row['maintenance']))
        self.assertIn('enabling the host again failed',
                      row['disabled_reason'])
        # An admin enables it; all is as before but for big.
        self.put('xenhost2', {'status': 'enable'})
        self.assertNothingLost(evacuated='xenhost2')
        self.assertAllBack()

    def test_wire_faults(self):
        for action, times in WIRE_FAULTS.items():
            self.fail_middle_and(action=action, times=times)
            self.fails(409, 'VM_MIGRATE_FAILED', STAYS_DISABLED, UNREACHABLE)
            self.assertNothingLost(evacuated='xenhost2')
            self.put('xenhost2', {'status': 'enable'})
            self.leave()
            self.assertEqual(self.home, self.assertNothingLost())

    def test_slow_enable_is_confirmed(self):
        self.fail_middle_and(delay=SLOW)
        self.fails(409, 'VM_MIGRATE_FAILED', ENABLED_AGAIN)
        self.assertNothingLost(evacuated='xenhost2')


class LeaveStepTest(PoolMaintenanceTestCase):
    """Leaving maintenance: host.enable, then the migrations back."""

    def setUp(self):
        super().setUp()
        with self.patient():
            self.enter()
        self.away = self.assertNothingLost(maintenance=('xenhost2',),
                                           evacuated='xenhost2')
        self.fleet.clear_call_log()

    def test_enable_refused(self):
        self.fleet.inject('host.enable', error=['HOST_IN_EMERGENCY_MODE'])
        self.fails(409, 'enable host xenhost2: HOST_IN_EMERGENCY_MODE',
                   body={'maintenance_mode': 'disable'})
        self.assertEqual(self.away, self.assertNothingLost(
            maintenance=('xenhost2',), evacuated='xenhost2'))
        self.assertNotIn(MIGRATE, [m for _, m in self.writes()])
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost())

    def test_master_unreachable(self):
        self.fleet.stop_host('xenhost1')
        self.fails(502, 'xenhost1', UNREACHABLE,
                   body={'maintenance_mode': 'disable'})
        self.fleet.start_host('xenhost1')
        self.assertEqual(self.away, self.assertNothingLost(
            maintenance=('xenhost2',), evacuated='xenhost2'))
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost())

    def test_slow_enable_is_confirmed(self):
        self.fleet.inject('host.enable', delay=SLOW)
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost())

    def test_migration_back_refused(self):
        self.nth_migration(2, error=['HOST_NOT_ENOUGH_FREE_MEMORY', '1', '0'])
        back = self.leave()
        self.assertEqual(['big', 'small'],
                         [r['name'] for r in back['restored']])
        skipped, = back['skipped']
        self.assertEqual(('mid', 'HOST_NOT_ENOUGH_FREE_MEMORY'),
                         (skipped['name'], skipped['code']))
        self.assertIn('HOST_NOT_ENOUGH_FREE_MEMORY', skipped['reason'])
        where = self.assertNothingLost()
        self.assertEqual(self.away[self.guests['mid']],
                         where[self.guests['mid']])
        self.assertEqual([], self.origins('xenhost2'))

    def test_migration_back_hangs(self):
        self.nth_migration(2, action='hang')
        self.fails(504, 'enabled and out of maintenance', 'Live migration '
                   'of guest %s to host xenhost2 did not finish within' %
                   self.guest('mid'), 'Guests moved back: %s.' %
                   self.guest('big'), body={'maintenance_mode': 'disable'})
        # The host serves again; big came back; mid and small keep their
        # origins for the next migration back.
        where = self.assertNothingLost()
        self.assertEqual('xenhost2', where[self.guests['big']])
        self.assertEqual({self.guests['mid'], self.guests['small']},
                         {o['vm_uuid'] for o in self.origins('xenhost2')})
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost())

    def test_master_unreachable_while_migrating_back(self):
        self.while_migrating('big', lambda: self.fleet.stop_host('xenhost1'))
        self.fails(502, 'enabled and out of maintenance', 'Live migration of '
                   'guest %s to xenhost2 failed' % self.guest('big'),
                   'xenhost1', UNREACHABLE, 'Where guest big runs could not '
                   'be read', 'Guests moved back: none.',
                   body={'maintenance_mode': 'disable'})
        self.fleet.start_host('xenhost1')
        # xapi finished big's migration; its origin is kept until the next
        # migration back finds it home.
        where = self.assertNothingLost(tasks=False)
        self.assertEqual('xenhost2', where[self.guests['big']])
        self.assertIn(self.guests['big'],
                      [o['vm_uuid'] for o in self.origins('xenhost2')])
        self.leave()
        self.assertEqual(self.home, self.assertNothingLost(tasks=False))


class StatusStepTest(PoolMaintenanceTestCase):
    """``status`` (os-hosts and os-services) under the same faults."""

    def test_disable_faults(self):
        self.fleet.inject('host.disable', error=['HOST_IN_EMERGENCY_MODE'])
        self.fails(409, 'HOST_IN_EMERGENCY_MODE', body={'status': 'disable'})
        self.assertNothingLost()
        for action, times in WIRE_FAULTS.items():
            self.fleet.inject('host.disable', action=action, times=times)
            self.fails(502, UNREACHABLE, body={'status': 'disable'})
            self.assertNothingLost()
        self.fleet.inject('host.disable', delay=SLOW)
        self.assertEqual('disabled',
                         self.put('xenhost2', {'status': 'disable'})['status'])
        self.assertNothingLost()

    def test_services_enable_faults(self):
        body = {'host': 'xenhost3', 'binary': 'nova-compute'}
        self.call('PUT', '/v2.1/os-services/disable', body)
        self.assertNothingLost()
        self.fleet.inject('host.enable', action='http_500')
        self.call('PUT', '/v2.1/os-services/enable', body, expected=502)
        self.assertNothingLost()
        self.fleet.inject('host.enable', delay=SLOW)
        self.call('PUT', '/v2.1/os-services/enable', body)
        self.assertNothingLost()


class OneChangePerPoolTest(PoolMaintenanceTestCase):
    """In one process: while a maintenance change runs, every other
    maintenance or membership change of the pool gets 409."""

    def start(self, path, body, method='PUT'):
        result = {}
        worker = threading.Thread(target=lambda: result.update(
            response=self.api.request(method, path, body)))
        worker.start()
        self.addCleanup(worker.join, 10)
        deadline = time.monotonic() + 5
        while self.aggregate()['operational_state'] != 'changing':
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        return worker, result

    def test_others_wait_for_an_evacuation(self):
        self.fleet.inject(MIGRATE, delay=0.3, times=None)
        worker, result = self.start('/v2.1/os-hosts/xenhost2',
                                    {'maintenance_mode': 'enable'})
        busy = 'in progress'
        self.fails(409, busy, host='xenhost3')
        self.fails(409, busy, host='xenhost1', body={'status': 'disable'})
        self.fails(409, busy, body={'maintenance_mode': 'disable'})
        self.assertIn(busy, self.action('add_host', {'host': 'xenhost4'}, 409)[
            'conflictingRequest']['message'])
        self.assertIn(busy, self.action('remove_host', {'host': 'xenhost3'},
                                        409)['conflictingRequest']['message'])
        worker.join(10)
        self.assertEqual(200, result['response'].status_int,
                         result['response'].body)
        self.assertNothingLost(maintenance=('xenhost2',),
                               evacuated='xenhost2')
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3'],
                         self.aggregate()['hosts'])

    def test_maintenance_waits_for_a_join(self):
        # A host with running guests cannot join: solo stops first.
        api = self.sdk('xenhost4')
        api.VM.clean_shutdown(api.VM.get_by_uuid(self.guests['solo']))
        del self.running[self.guests['solo']]
        self.fleet.inject('pool.join', delay=0.4)
        worker, result = self.start(
            '/v2.1/os-aggregates/%d/action' % self.agg_id,
            {'add_host': {'host': 'xenhost4'}}, method='POST')
        self.fails(409, 'in progress')
        self.assertEqual([], [c for c in self.writes()
                              if c[1] != 'pool.join'])
        worker.join(10)
        self.assertEqual(200, result['response'].status_int)
        self.assertNothingLost()
        self.assertEqual(['xenhost1', 'xenhost2', 'xenhost3', 'xenhost4'],
                         self.aggregate()['hosts'])

    def test_two_at_once(self):
        self.fleet.inject(MIGRATE, delay=0.2, times=None)
        web = self.fleet.add_vm('xenhost3', 'web')
        self.running[web] = 'web'
        self.home[web] = 'xenhost3'
        results = concurrency.at_once([
            lambda: self.api.request('PUT', '/v2.1/os-hosts/xenhost2',
                                     {'maintenance_mode': 'enable'}),
            lambda: self.api.request('PUT', '/v2.1/os-hosts/xenhost3',
                                     {'maintenance_mode': 'enable'})])
        statuses = sorted(r.status_int for r in results)
        self.assertEqual([200, 409], statuses, [r.body for r in results])
        winner = ('xenhost2', 'xenhost3')[
            [r.status_int for r in results].index(200)]
        self.assertNothingLost(maintenance=(winner,), evacuated=winner)


# -- real server processes ---------------------------------------------------

class MaintenanceServersFixture(pool_fixtures.APIServersFixture):
    """Real ``nova-aggregates-api`` servers with ``[maintenance]``
    options."""

    MAINTENANCE = {'migration_timeout': 5.0}

    def write_config(self, name, port):
        path = super().write_config(name, port)
        with open(path, 'a') as f:
            f.write('[maintenance]\n')
            for key, value in self.MAINTENANCE.items():
                f.write('%s = %s\n' % (key, value))
        return path


class BackendDatabaseFixture(fixtures.Fixture):
    """A fresh database on ``backend`` for several server processes,
    migrated, with the fleet's hosts registered; this process reads it
    too (as ``pool_fixtures.SharedDatabaseFixture`` does for SQLite)."""

    def __init__(self, backend, fleet):
        super().__init__()
        self.backend = backend
        self.fleet = fleet

    def _setUp(self):
        self.connection = self.useFixture(
            backends.BackendDatabase(self.backend)).url
        pool_fixtures._ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        self.useFixture(na_fixtures.DatabaseFixture(conf, self.connection))
        self.context = context.get_admin_context()
        for number, host in enumerate(self.fleet.hosts, 1):
            db_api.compute_host_create(self.context, host.name,
                                       pool_fixtures.zone_of(number),
                                       host.url)

    def aggregate(self, aggregate_id):
        return db_api.aggregate_get(self.context, aggregate_id)


class ServerProcessTests(NothingLostMixin):
    """Two ``nova-aggregates-api`` servers (one worker each) on one
    database of ``BACKEND`` and one simulated fleet: the same pool and
    guests as above."""

    BACKEND = backends.SQLITE

    def setUp(self):
        super().setUp()
        backends.require(self.BACKEND)
        self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(MaintenanceFleetFixture()).fleet
        self.db = self.useFixture(
            BackendDatabaseFixture(self.BACKEND, self.fleet))
        self.servers = self.useFixture(MaintenanceServersFixture(
            self.db.connection, count=2, workers=1)).servers
        for server in self.servers:
            self.addOnException(
                lambda exc_info, server=server: self.addDetail(
                    server.name + '-log', testtools.content.text_content(
                        server.output()[-30000:])))
        server = self.servers[0]
        agg = self.call(server, 'POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': 'rack'}})['aggregate']
        self.agg_id = agg['id']
        self.path = '/v2.1/os-aggregates/%d/action' % self.agg_id
        self.call(server, 'POST', self.path, {'set_metadata': {
            'metadata': {'hypervisor_pool': 'true'}}})
        for host in POOL:
            self.call(server, 'POST', self.path, {'add_host': {'host': host}})
        self.guests, self.home = {}, {}
        for host, name, size in (('xenhost2', 'big', 3),
                                 ('xenhost2', 'mid', 2),
                                 ('xenhost2', 'small', 1),
                                 ('xenhost1', 'app', 1)):
            uuid = self.fleet.add_vm(host, name, memory=size * GIB)
            self.guests[name] = uuid
            self.home[uuid] = host
        self.running = {u: n for n, u in self.guests.items()}
        self.assertTrue(self.fleet.settle())

    def call(self, server, method, path, body=None, expected=200):
        status, result = server.request(method, path, body)
        self.assertEqual(expected, status, result)
        return result

    def live(self):
        return [s for s in self.servers if s.running()]

    def aggregate(self):
        """As every live server shows it (they agree)."""
        views = [self.call(s, 'GET', '/v2/admin/os-aggregates/%d'
                           % self.agg_id)['aggregate'] for s in self.live()]
        for other in views[1:]:
            self.assertEqual(views[0], other)
        return views[0]

    def put(self, server, host, body, expected=200):
        return self.call(server, 'PUT', '/v2.1/os-hosts/%s' % host, body,
                         expected)

    def crash_during(self, host, reached):
        """Ask servers[0] to put ``host`` in maintenance and SIGKILL it
        once ``reached()``; the aggregate is left ``changing``."""
        crashing = self.servers[0]

        def doomed():
            try:
                crashing.request('PUT', '/v2.1/os-hosts/%s' % host,
                                 {'maintenance_mode': 'enable'})
            except Exception:  # noqa: B902 - it dies under the request
                pass

        worker = threading.Thread(target=doomed)
        worker.start()
        self.addCleanup(worker.join, 10)
        deadline = time.monotonic() + 15
        while not reached():
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.005)
        crashing.crash()
        worker.join(10)
        stuck = self.db.aggregate(self.agg_id)
        self.assertEqual(('changing', host),
                         (stuck['operational_state'], stuck['pending_host']))
        # The other server sees the change in flight.
        message = self.put(self.servers[1], 'xenhost3',
                           {'maintenance_mode': 'enable'}, 409)
        self.assertIn('in progress', message['conflictingRequest']['message'])

    def reconcile(self):
        result = subprocess.run(
            [os.path.join(pool_fixtures.BIN, 'nova-aggregates-manage'),
             '--config-file', self.servers[1].config, 'aggregate',
             'reconcile'], capture_output=True, text=True, timeout=60)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('Reconciled aggregates: %d' % self.agg_id,
                      result.stdout)

    def test_sigkill_mid_evacuation_then_manage_reconcile(self):
        self.fleet.inject(MIGRATE, delay=0.4, times=None)
        big, mid = self.guests['big'], self.guests['mid']
        self.crash_during('xenhost2', lambda: self.fleet.vm_location(big) !=
                          'xenhost2' and any(vm['uuid'] == mid and
                                             vm['migrating_to']
                                             for vm in self.fleet.vms()))
        self.assertFalse(self.fleet.host_state('xenhost2')['enabled'])
        self.reconcile()
        # Rolled back as a failure is: the host enabled again, moved
        # guests where xapi put them (mid's migration, orphaned, finished).
        # Its task is left to xapi's garbage collection.
        where = self.assertNothingLost(tasks=False)
        self.assertEqual('xenhost3', where[big])
        self.assertEqual('xenhost1', where[mid])
        self.assertEqual('active', self.aggregate()['operational_state'])
        # mid's origin was recorded before its migration began: the guest
        # the dead process was moving comes back too.
        self.assertEqual(sorted([big, mid]), sorted(
            o['vm_uuid'] for o in self.origins('xenhost2')))
        # The survivor finishes the job, and brings back what it knows of.
        moved = self.put(self.servers[1], 'xenhost2',
                         {'maintenance_mode': 'enable'})['evacuated']
        self.assertEqual(['small'], [m['name'] for m in moved])
        self.assertNothingLost(maintenance=('xenhost2',), tasks=False)
        back = self.put(self.servers[1], 'xenhost2',
                        {'maintenance_mode': 'disable'})
        self.assertEqual(['big', 'mid', 'small'],
                         sorted(r['name'] for r in back['restored']))
        self.assertNothingLost(tasks=False)

    def race(self, first, second):
        """Send ``first`` to servers[0] and ``second`` to servers[1] at
        the same moment (each server has one worker: one request each);
        exactly one proceeds, the other gets 409.  The winner's index."""
        results = concurrency.at_once(
            [lambda: self.servers[0].request(*first),
             lambda: self.servers[1].request(*second)], timeout=30)
        statuses = [status for status, _ in results]
        self.assertEqual([200, 409], sorted(statuses), results)
        _, answer = results[statuses.index(409)]
        self.assertIn('in progress', answer['conflictingRequest']['message'])
        return statuses.index(200)

    def test_one_change_per_pool_across_processes(self):
        self.fleet.inject(MIGRATE, delay=0.3, times=None)
        self.fleet.inject('pool.join', delay=0.3, times=None)
        web = self.fleet.add_vm('xenhost3', 'web')
        self.running[web] = 'web'
        self.home[web] = 'xenhost3'
        # Two members of one pool enter maintenance at once.
        enter = [('PUT', '/v2.1/os-hosts/%s' % host,
                  {'maintenance_mode': 'enable'})
                 for host in ('xenhost2', 'xenhost3')]
        host = ('xenhost2', 'xenhost3')[self.race(*enter)]
        self.assertNothingLost(maintenance=(host,), evacuated=host)
        self.put(self.servers[1], host, {'maintenance_mode': 'disable'})
        self.assertEqual(self.home, self.assertNothingLost())
        # A member enters maintenance while a host joins the pool.
        won = self.race(enter[0], ('POST', self.path,
                                   {'add_host': {'host': 'xenhost4'}}))
        if won == 0:
            self.assertNothingLost(maintenance=('xenhost2',),
                                   evacuated='xenhost2')
        else:
            self.assertNothingLost()
            self.assertIn('xenhost4', self.aggregate()['hosts'])


class ServerProcessSQLiteTest(ServerProcessTests, testtools.TestCase):
    BACKEND = backends.SQLITE

    def test_sigkill_mid_hand_over_then_restart(self):
        self.fleet.inject('pool.designate_new_master',
                          action='late_designate', delay=0.5)
        self.crash_during('xenhost1', lambda: (
            'xenhost1', 'pool.designate_new_master') in self.fleet.call_log())
        # The hand-over lands although its caller died; xenhost1 is still
        # disabled.
        self.assertTrue(self.fleet.settle(10))
        self.assertEqual('xenhost3', self.fleet.pool_of('xenhost1')['master'])
        self.assertFalse(self.fleet.host_state('xenhost1')['enabled'])
        self.servers[0].start()
        self.servers[0].wait_ready()
        self.assertIn('Reconciled interrupted pool operations',
                      self.servers[0].output())
        where = self.assertNothingLost()
        self.assertEqual(self.home, where)
        self.assertEqual('xenhost3',
                         self.aggregate()['metadata']['master_compute'])
        # xenhost1, a member now, goes into maintenance with no hand-over.
        self.put(self.servers[0], 'xenhost1', {'maintenance_mode': 'enable'})
        self.assertNothingLost(maintenance=('xenhost1',),
                               evacuated='xenhost1')


class ServerProcessPostgreSQLTest(ServerProcessTests, testtools.TestCase):
    BACKEND = backends.POSTGRESQL


class ServerProcessMySQLTest(ServerProcessTests, testtools.TestCase):
    BACKEND = backends.MYSQL
