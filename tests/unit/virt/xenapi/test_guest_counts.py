"""``guest_counts`` of the xenapi driver against the XenServer simulator
(host matching's NumInstancesFilter and AggregateNumInstancesFilter): one
``VM.get_all_records`` per pool, on its master, and one per host in no
pool; what it counts is what ``list_guests`` lists."""

from nova_aggregates import exception
from tests.unit.virt.xenapi import test_maintenance

POOL_HOSTS = test_maintenance.POOL_HOSTS


class TestGuestCounts(test_maintenance.MaintenanceTestCase):

    def seed(self):
        self.fleet.add_vm('xenhost1', 'web')
        self.fleet.add_vm('xenhost1', 'db')
        self.fleet.add_vm('xenhost1', 'off', running=False)
        paused = self.fleet.add_vm('xenhost2', 'paused', running=False)
        self.sdk().xenapi.VM.start(self.vm_ref(paused), True, False)
        self.fleet.add_vm('xenhost4', 'solo')

    def test_counts_what_list_guests_lists(self):
        self.seed()
        alone = self.compute('xenhost4')
        counts = self.driver.guest_counts([self.pool], [alone])
        self.assertEqual({'xenhost1': 2, 'xenhost2': 1, 'xenhost3': 0,
                          'xenhost4': 1}, counts)
        for name in POOL_HOSTS:
            self.assertEqual(len(self.driver.list_guests(
                self.pool, self.compute(name))), counts[name])
        self.assertEqual(1, len(self.driver.list_guests(None, alone)))

    def test_one_call_per_pool_and_per_lone_host_when_warm(self):
        self.seed()
        alone = self.compute('xenhost4')
        self.driver.guest_counts([self.pool], [alone])
        self.fleet.clear_call_log()
        self.driver.guest_counts([self.pool], [alone])
        self.assertEqual([('xenhost1', 'VM.get_all_records'),
                          ('xenhost4', 'VM.get_all_records')],
                         self.fleet.call_log())

    def test_an_unreachable_pool_is_its_members_only(self):
        self.seed()
        self.fleet.stop_host('xenhost1')
        counts = self.driver.guest_counts([self.pool],
                                          [self.compute('xenhost4')])
        self.assertEqual(1, counts['xenhost4'])
        for name in POOL_HOSTS:
            self.assertIsInstance(counts[name],
                                  exception.HypervisorUnreachable)

    def test_a_refusal_names_the_code(self):
        self.fleet.inject('VM.get_all_records', error=['INTERNAL_ERROR',
                                                       'boom'])
        counts = self.driver.guest_counts([self.pool])
        for name in POOL_HOSTS:
            self.assertIsInstance(counts[name],
                                  exception.PoolOperationRefused)
            self.assertEqual('INTERNAL_ERROR', counts[name].code)
