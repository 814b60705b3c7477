"""Host maintenance primitives of the fake driver, and the scenario that
both drivers must play out alike.

``run_scenario`` takes a harness (a driver plus a way to seed hosts and
guests) through what the manager does for api-contract §13 -- disable,
plan by free memory, hand the master role over, evacuate, refusals, enable
and migrate back -- and returns a transcript of what the driver answered,
free of anything driver specific (uuids, refs, exact free bytes).  The
fake driver's transcript must be ``EXPECTED``; the xenapi driver's test
(``tests/unit/virt/xenapi/test_maintenance.py``) runs the same scenario
against the XenServer simulator through the real SDK and expects the same.
"""

import random
import threading

from oslo_config import cfg
import testtools

from nova_aggregates import conf as na_conf
from nova_aggregates import constants
from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt import fake

MIB = 1024 ** 2
HOSTS = ('xenhost1', 'xenhost2', 'xenhost3')


def make_conf(**sections):
    """A private ConfigOpts; ``sections``: {group: {option: value}}."""
    conf = cfg.ConfigOpts()
    na_conf.register_opts(conf)
    conf([], default_config_files=[])
    for group, values in sections.items():
        for name, value in values.items():
            conf.set_override(name, value, group=group)
    return conf


class Book:
    """The database's view of one pool aggregate (the manager's part)."""

    def __init__(self, hosts, aggregate_id=7, name='rack-1'):
        self.aggregate_id = aggregate_id
        self.name = name
        self.members = list(hosts)
        self.metadata = {'hypervisor_pool': 'true'}

    @property
    def master(self):
        return self.metadata.get(constants.MASTER)

    def pool(self):
        return driver.Pool(aggregate_id=self.aggregate_id, name=self.name,
                           members=tuple(self.members), master=self.master,
                           metadata=dict(self.metadata))

    def record(self, change):
        self.metadata.update(change.set_metadata)
        for key in change.remove_metadata:
            self.metadata.pop(key, None)


# -- the scenario ---------------------------------------------------------

def _refusal(func, *args):
    """(code, location) of the PoolOperationRefused ``func`` raises."""
    try:
        func(*args)
    except exception.PoolOperationRefused as exc:
        return exc.code, exc.kwargs.get('location', 'unknown')
    raise AssertionError('%s%r was not refused' % (func.__name__, args))


def _plan(drv, pool, guests, targets):
    """§13's plan: biggest guest first, onto the enabled target with the
    most free memory, counting what the plan already put there."""
    free = drv.free_memory(pool, targets)
    plan = []
    for guest in sorted(guests, key=lambda g: (-g.memory, g.name)):
        best = max(targets, key=lambda h: (free[h.name], h.name))
        if free[best.name] < guest.memory:
            raise AssertionError('no room for %s' % guest.name)
        free[best.name] -= guest.memory
        plan.append((guest, best))
    return plan


def run_scenario(harness):
    """Play the maintenance of xenhost1 (the master) through ``harness``;
    returns the transcript."""
    drv = harness.driver
    host = harness.host
    out = []
    for name, memory_mb in (('xenhost1', 16384), ('xenhost2', 16384),
                            ('xenhost3', 12288)):
        harness.set_memory(name, memory_mb)
    before = drv.get_host_resources(harness.pool(), host('xenhost1'))
    out.append(('totals', before.cpu, before.memory_mb, before.disk_gb))
    uuids = {}
    for name, memory_mb in (('web', 1024), ('db', 4096), ('cache', 2048)):
        uuids[name] = harness.add_guest('xenhost1', name, memory_mb)
    uuids['old'] = harness.add_guest('xenhost1', 'old', 512, running=False)
    uuids['batch'] = harness.add_guest('xenhost3', 'batch', 1024)
    pool = harness.pool()

    guests = drv.list_guests(pool, host('xenhost1'))
    out.append(('guests', [(g.name, g.memory // MIB, g.host, g.power_state)
                           for g in guests]))
    loaded = drv.get_host_resources(pool, host('xenhost1'))
    out.append(('used by guests', loaded.memory_mb_used - before.memory_mb_used))

    # Disable, twice: idempotent.
    for _ in range(2):
        drv.set_host_enabled(pool, host('xenhost1'), False)
    out.append(('enabled', drv.get_host_enabled(pool, host('xenhost1'))))

    targets = [host('xenhost2'), host('xenhost3')]
    free = drv.free_memory(pool, targets)
    out.append(('most free first', sorted(free, key=lambda n: -free[n])))
    plan = _plan(drv, pool, guests, targets)
    out.append(('plan', [(g.name, t.name) for g, t in plan]))

    # Refusals, each leaving the guest where it was.
    by_name = {g.name: g for g in guests}
    out.append(('to its own host',
                drv.live_migrate(pool, by_name['web'], host('xenhost1'))))
    halted = driver.Guest(uuid=uuids['old'], name='old', memory=512 * MIB,
                          host='xenhost1', power_state='Halted')
    out.append(('halted',) + _refusal(drv.live_migrate, pool, halted,
                                      host('xenhost2')))
    drv.set_host_enabled(pool, host('xenhost3'), False)
    out.append(('disabled target',) + _refusal(
        drv.live_migrate, pool, by_name['web'], host('xenhost3')))
    drv.set_host_enabled(pool, host('xenhost3'), True)
    room = drv.free_memory(pool, [host('xenhost3')])['xenhost3']
    uuids['huge'] = harness.add_guest('xenhost1', 'huge', room // MIB + 1)
    huge = [g for g in drv.list_guests(pool, host('xenhost1'))
            if g.name == 'huge'][0]
    out.append(('too big',) + _refusal(drv.live_migrate, pool, huge,
                                       host('xenhost3')))
    harness.stop_guest(uuids['huge'])
    out.append(('not in the pool',) + _refusal(
        drv.live_migrate, pool, by_name['web'],
        driver.ComputeHost('elsewhere', None)))
    gone = driver.Guest(uuid='00000000-0000-4000-8000-000000000000',
                        name='gone', memory=MIB, host='xenhost1')
    out.append(('no such guest',) + _refusal(drv.live_migrate, pool, gone,
                                             host('xenhost2')))

    # The master hands its role to the member with the most free memory.
    change = drv.designate_new_master(pool, host(plan[0][1].name))
    harness.record(change)
    out.append(('master', change.set_metadata))
    pool = harness.pool()

    out.append(('moved', [(g.name, drv.live_migrate(pool, g, t))
                          for g, t in plan]))
    out.append(('left on xenhost1',
                [g.name for g in drv.list_guests(pool, host('xenhost1'))]))
    out.append(('locations', {name: drv.guest_location(pool, uuid)
                              for name, uuid in sorted(uuids.items())}))
    after = drv.get_host_resources(pool, host('xenhost1'))
    out.append(('freed', loaded.memory_mb_used - after.memory_mb_used))

    # Back in service: enable, migrate back.
    drv.set_host_enabled(pool, host('xenhost1'), True)
    out.append(('enabled', drv.get_host_enabled(pool, host('xenhost1'))))
    out.append(('restored', [(g.name, drv.live_migrate(pool, g,
                                                       host('xenhost1')))
                             for g, _ in plan]))
    out.append(('guests', [g.name for g in
                           drv.list_guests(pool, host('xenhost1'))]))
    return out


EXPECTED = [
    ('totals', 8, 16384, 500),
    ('guests', [('cache', 2048, 'xenhost1', 'Running'),
                ('db', 4096, 'xenhost1', 'Running'),
                ('web', 1024, 'xenhost1', 'Running')]),
    ('used by guests', 7168),
    ('enabled', False),
    ('most free first', ['xenhost2', 'xenhost3']),
    ('plan', [('db', 'xenhost2'), ('cache', 'xenhost2'),
              ('web', 'xenhost3')]),
    ('to its own host', 'xenhost1'),
    ('halted', 'VM_BAD_POWER_STATE', None),
    ('disabled target', 'HOST_DISABLED', 'xenhost1'),
    ('too big', 'HOST_NOT_ENOUGH_FREE_MEMORY', 'xenhost1'),
    ('not in the pool', 'NOVA_HOST_NOT_IN_POOL', 'unknown'),
    ('no such guest', 'UUID_INVALID', 'unknown'),
    ('master', {'master_compute': 'xenhost2'}),
    ('moved', [('db', 'xenhost2'), ('cache', 'xenhost2'),
               ('web', 'xenhost3')]),
    ('left on xenhost1', []),
    ('locations', {'batch': 'xenhost3', 'cache': 'xenhost2',
                   'db': 'xenhost2', 'huge': None, 'old': None,
                   'web': 'xenhost3'}),
    ('freed', 7168),
    ('enabled', True),
    ('restored', [('db', 'xenhost1'), ('cache', 'xenhost1'),
                  ('web', 'xenhost1')]),
    ('guests', ['cache', 'db', 'web']),
]


class ScenarioTests:
    """Mixin: ``make_harness()`` returns a harness with ``driver``,
    ``pool()``, ``record(change)``, ``host(name)``, ``set_memory(name,
    mb)``, ``add_guest(host, name, mb, running=True)`` and
    ``stop_guest(uuid)``."""

    def test_maintenance_scenario(self):
        self.assertEqual(EXPECTED, run_scenario(self.make_harness()))


class FakeHarness:

    def __init__(self, conf=None):
        self.driver = fake.FakeDriver(conf or make_conf())
        self.hosts = {n: driver.ComputeHost(n, None) for n in HOSTS}
        self.book = Book(self.hosts[n] for n in HOSTS)
        self.book.record(self.driver.add_to_pool(
            driver.Pool(7, 'rack-1', (), None, {}), self.hosts['xenhost1']))

    def pool(self):
        return self.book.pool()

    def record(self, change):
        self.book.record(change)

    def host(self, name):
        return self.hosts.get(name) or driver.ComputeHost(name, None)

    def set_memory(self, name, memory_mb):
        self.driver.configure_host(name, memory_mb=memory_mb)

    def add_guest(self, host, name, memory_mb, running=True):
        return self.driver.add_guest(
            host, name, memory_mb,
            power_state='Running' if running else 'Halted')

    def stop_guest(self, uuid):
        self.driver.set_power_state(uuid, 'Halted')


class FakeScenarioTest(ScenarioTests, testtools.TestCase):

    def make_harness(self):
        return FakeHarness()


# -- the fake driver on its own -----------------------------------------------

class FakeMaintenanceTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.harness = FakeHarness()
        self.driver = self.harness.driver
        self.pool = self.harness.pool()
        self.h1, self.h2, self.h3 = (self.harness.host(n) for n in HOSTS)

    def guest(self, uuid):
        for host in (self.h1, self.h2, self.h3):
            for guest in self.driver.list_guests(self.pool, host):
                if guest.uuid == uuid:
                    return guest
        raise AssertionError('no running guest %s' % uuid)

    def assertRefused(self, code, func, *args):
        exc = self.assertRaises(exception.PoolOperationRefused, func, *args)
        self.assertEqual(code, exc.code)
        self.assertIn(code, str(exc))
        return exc

    def test_options_and_defaults(self):
        conf = make_conf()
        self.assertEqual(1, conf.maintenance.max_concurrent_migrations)
        self.assertEqual(600.0, conf.maintenance.migration_timeout)
        self.assertEqual((16384, 8, 500), (conf.fake_driver.host_memory_mb,
                                           conf.fake_driver.host_cpus,
                                           conf.fake_driver.host_disk_gb))
        self.assertRaises(ValueError, conf.set_override,
                          'max_concurrent_migrations', 0,
                          group='maintenance')
        self.assertEqual(
            driver.HostResources(cpu=8, memory_mb=16384, memory_mb_used=0,
                                 disk_gb=500, disk_gb_used=0),
            self.driver.get_host_resources(self.pool, self.h1))
        drv = fake.FakeDriver(make_conf(fake_driver={
            'host_memory_mb': 2048, 'host_cpus': 2, 'host_disk_gb': 40}))
        drv.configure_host('xenhost2', cpus=4)
        self.assertEqual((2, 2048, 40), (
            drv.get_host_resources(None, self.h1).cpu,
            drv.get_host_resources(None, self.h1).memory_mb,
            drv.get_host_resources(None, self.h1).disk_gb))
        self.assertEqual(4, drv.get_host_resources(None, self.h2).cpu)

    def test_guests_resources_and_free_memory(self):
        web = self.driver.add_guest('xenhost1', 'web', 1024)
        self.driver.add_guest(self.h1, 'db', 3072, uuid='fixed-uuid')
        self.driver.add_guest('xenhost1', 'paused', 512,
                              power_state='Paused')
        self.driver.add_guest('xenhost1', 'off', 4096, power_state='Halted')
        self.assertEqual(
            [driver.Guest('fixed-uuid', 'db', 3072 * MIB, 'xenhost1'),
             driver.Guest(self.guest(web).uuid, 'web', 1024 * MIB,
                          'xenhost1')],
            [g for g in self.driver.list_guests(self.pool, self.h1)
             if g.power_state == 'Running'])
        self.assertEqual(
            ['db', 'paused', 'web'],
            [g.name for g in self.driver.list_guests(self.pool, self.h1)])
        resources = self.driver.get_host_resources(self.pool, self.h1)
        self.assertEqual(1024 + 3072 + 512, resources.memory_mb_used)
        self.assertEqual(
            {'xenhost1': (16384 - 4608) * MIB, 'xenhost2': 16384 * MIB},
            self.driver.free_memory(self.pool, [self.h1, self.h2]))
        self.assertEqual({}, self.driver.free_memory(self.pool, []))
        self.assertRaises(ValueError, self.driver.add_guest, 'xenhost1',
                          'dup', 1, uuid='fixed-uuid')
        self.assertRaises(ValueError, self.driver.add_guest, 'xenhost1',
                          'zero', 0)
        self.assertRaises(ValueError, self.driver.add_guest, 'xenhost1',
                          'odd', 1, power_state='Exploded')

    def test_enable_disable_idempotent(self):
        self.assertTrue(self.driver.get_host_enabled(self.pool, self.h2))
        for _ in range(2):
            self.driver.set_host_enabled(self.pool, self.h2, False)
            self.assertFalse(self.driver.get_host_enabled(self.pool, self.h2))
        for _ in range(2):
            self.driver.set_host_enabled(self.pool, self.h2, True)
            self.assertTrue(self.driver.get_host_enabled(self.pool, self.h2))
        # Another driver instance has its own hypervisor.
        self.assertTrue(FakeHarness().driver.get_host_enabled(None, self.h1))

    def test_live_migrate_moves_exactly_one_guest(self):
        a = self.driver.add_guest('xenhost1', 'a', 1024)
        b = self.driver.add_guest('xenhost1', 'b', 1024)
        self.assertEqual('xenhost2', self.driver.live_migrate(
            self.pool, self.guest(a), self.h2))
        self.assertEqual('xenhost2', self.driver.guest_location(self.pool, a))
        self.assertEqual('xenhost1', self.driver.guest_location(self.pool, b))
        self.assertEqual([['b'], ['a'], []], [
            [g.name for g in self.driver.list_guests(self.pool, h)]
            for h in (self.h1, self.h2, self.h3)])
        self.assertEqual('xenhost2', self.guest(a).host)

    def test_refusals_carry_codes_and_the_location(self):
        uuid = self.driver.add_guest('xenhost1', 'web', 4096)
        web = self.guest(uuid)
        self.driver.set_host_enabled(self.pool, self.h2, False)
        exc = self.assertRefused('HOST_DISABLED', self.driver.live_migrate,
                                 self.pool, web, self.h2)
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.assertIn('web (%s)' % uuid, str(exc))
        self.assertIn('host xenhost2', str(exc))
        self.driver.configure_host('xenhost3', memory_mb=4095)
        exc = self.assertRefused('HOST_NOT_ENOUGH_FREE_MEMORY',
                                 self.driver.live_migrate, self.pool, web,
                                 self.h3)
        self.assertEqual('%d %d' % (4096 * MIB, 4095 * MIB),
                         exc.kwargs['details'])
        self.driver.set_power_state(uuid, 'Paused')
        exc = self.assertRefused('VM_BAD_POWER_STATE',
                                 self.driver.live_migrate, self.pool, web,
                                 self.h3)
        self.assertEqual('%s running paused' % uuid, exc.kwargs['details'])
        self.assertEqual('xenhost1', exc.kwargs['location'])
        self.driver.set_power_state(uuid, 'Suspended')
        exc = self.assertRefused('VM_BAD_POWER_STATE',
                                 self.driver.live_migrate, self.pool, web,
                                 self.h3)
        self.assertIsNone(exc.kwargs['location'])
        self.assertIsNone(self.driver.guest_location(self.pool, uuid))
        self.driver.remove_guest(uuid)
        self.assertRefused('UUID_INVALID', self.driver.live_migrate,
                           self.pool, web, self.h3)
        self.assertIsNone(self.driver.guest_location(self.pool, uuid))

    def test_pool_membership(self):
        uuid = self.driver.add_guest('xenhost1', 'web', 1024)
        web = self.guest(uuid)
        outsider = driver.ComputeHost('xenhost9', None)
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.live_migrate,
                           self.pool, web, outsider)
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.live_migrate,
                           None, web, self.h2)
        self.assertRefused('NOVA_HOST_NOT_IN_POOL',
                           self.driver.designate_new_master, self.pool,
                           outsider)
        self.assertRefused('NOVA_HOST_NOT_IN_POOL',
                           self.driver.set_host_enabled, self.pool, outsider,
                           False)
        self.assertRefused('NOVA_HOST_NOT_IN_POOL', self.driver.list_guests,
                           self.pool, outsider)
        # A host in no pool aggregate answers for itself.
        self.driver.add_guest('xenhost9', 'alone', 1024)
        self.assertEqual(['alone'], [
            g.name for g in self.driver.list_guests(None, outsider)])
        self.driver.set_host_enabled(None, outsider, False)
        self.assertFalse(self.driver.get_host_enabled(None, outsider))
        self.assertEqual(1024, self.driver.get_host_resources(
            None, outsider).memory_mb_used)
        # A guest outside the pool is not this pool's.
        alone = [g for g in self.driver.list_guests(None, outsider)][0]
        self.assertIsNone(self.driver.guest_location(self.pool, alone.uuid))
        self.assertEqual('xenhost9',
                         self.driver.guest_location(None, alone.uuid))
        self.assertRefused('UUID_INVALID', self.driver.live_migrate,
                           self.pool, alone, self.h2)

    def test_designate_new_master(self):
        self.assertEqual(
            driver.PoolChange(set_metadata={'master_compute': 'xenhost3'}),
            self.driver.designate_new_master(self.pool, self.h3))

    def test_concurrent_migrations_never_overcommit(self):
        # Room for 3 guests of 1 GiB on each host; 5 guests shuffle between
        # them from 8 threads.
        for host in HOSTS:
            self.driver.configure_host(host, memory_mb=3072)
        uuids = [self.driver.add_guest(HOSTS[i % 2], 'g%d' % i, 1024)
                 for i in range(5)]
        hosts = [self.h1, self.h2, self.h3]
        errors = []
        codes = set()

        def work(seed):
            rnd = random.Random(seed)
            for _ in range(60):
                uuid = rnd.choice(uuids)
                target = rnd.choice(hosts)
                guest = driver.Guest(uuid, 'g', 1024 * MIB, 'ignored')
                try:
                    self.driver.live_migrate(self.pool, guest, target)
                except exception.PoolOperationRefused as exc:
                    codes.add(exc.code)
                except Exception as exc:  # collected for the assertion
                    errors.append(exc)
                free = self.driver.free_memory(self.pool, hosts)
                if min(free.values()) < 0:
                    errors.append(AssertionError(free))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], errors)
        self.assertLessEqual(codes, {'HOST_NOT_ENOUGH_FREE_MEMORY'})
        located = sorted(
            g.uuid for h in hosts for g in self.driver.list_guests(
                self.pool, h))
        self.assertEqual(sorted(uuids), located)  # each on exactly one host
        for uuid in uuids:
            self.assertIn(self.driver.guest_location(self.pool, uuid), HOSTS)
