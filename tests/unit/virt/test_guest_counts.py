"""``guest_counts`` (host matching's guest counts) of the fake driver, and
the base class's default built on ``list_guests``."""

import testtools

from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt import fake
from tests.unit.virt import test_fake_maintenance


def compute(name):
    return driver.ComputeHost(name=name, hypervisor_url=None)


def pool(*names):
    return driver.Pool(aggregate_id=1, name='rack', members=tuple(
        compute(name) for name in names), master=names[0], metadata={})


class TestFakeGuestCounts(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.driver = fake.FakeDriver(test_fake_maintenance.make_conf())

    def test_resident_guests_of_each_host_asked(self):
        self.driver.add_guest('a', 'web', 512)
        self.driver.add_guest('a', 'db', 512)
        self.driver.add_guest('a', 'paused', 512, power_state='Paused')
        self.driver.add_guest('b', 'halted', 512, power_state='Halted')
        self.driver.add_guest('c', 'solo', 512)
        self.driver.add_guest('elsewhere', 'x', 512)
        self.assertEqual({'a': 3, 'b': 0, 'c': 1, 'd': 0},
                         self.driver.guest_counts([pool('a', 'b')],
                                                  [compute('c'),
                                                   compute('d')]))
        self.assertEqual({}, self.driver.guest_counts([]))


class _ListingOnly(driver.ComputeDriver):
    """A driver with list_guests only: the default guest_counts asks it."""

    def list_guests(self, pool, host):
        if host.name == 'down':
            raise exception.HypervisorUnreachable(host='down',
                                                  reason='no route')
        return ['guest'] * len(host.name)


class TestDefaultGuestCounts(testtools.TestCase):

    def test_host_by_host_with_failures_per_host(self):
        counts = _ListingOnly(None).guest_counts([pool('ab', 'down')],
                                                 [compute('abc')])
        self.assertEqual(2, counts['ab'])
        self.assertEqual(3, counts['abc'])
        self.assertIsInstance(counts['down'], exception.HypervisorUnreachable)
