"""The parts of Placement mirroring that need no Placement: the options'
defaults, the switch, and what ``placement sync`` reports and exits with.
(Mirroring itself runs against the real Placement:
tests/functional/placement.)"""

from oslo_config import cfg
import testtools

from nova_aggregates.aggregates import placement_mirror
from nova_aggregates import conf as na_conf


def _agg(name):
    return {'id': 1, 'name': name, 'uuid': 'uuid-' + name}


class TestOptions(testtools.TestCase):

    def test_keystoneauth_defaults_survive_a_reset(self):
        conf = cfg.ConfigOpts()
        na_conf.register_opts(conf)
        conf([])
        conf.reset()
        self.assertEqual('placement', conf.placement.service_type)
        self.assertEqual(['internal', 'public'],
                         conf.placement.valid_interfaces)
        # keystoneauth's own default is none: wait forever.
        self.assertEqual(10, conf.placement.timeout)
        self.assertFalse(conf.placement.mirror_aggregates)

    def test_switch_picks_the_mirror(self):
        conf = cfg.ConfigOpts()
        na_conf.register_opts(conf)
        conf([])
        self.assertIsInstance(placement_mirror.mirror(conf),
                              placement_mirror.NoMirror)
        conf.set_override('mirror_aggregates', True, 'placement')
        self.assertIsInstance(placement_mirror.mirror(conf),
                              placement_mirror.PlacementMirror)


class TestSyncReport(testtools.TestCase):

    def test_matching_placement(self):
        report = placement_mirror.SyncReport(dry_run=False, aggregates=2,
                                             hosts=3)
        self.assertEqual(0, report.remaining)
        self.assertEqual(['Compared 2 aggregates on 3 member hosts with '
                          'Placement.', 'No drift: Placement matches.'],
                         report.lines())

    def test_dry_run_counts_all_drift_and_uncovered_steps(self):
        report = placement_mirror.SyncReport(dry_run=True)
        report.drift = [placement_mirror.Drift('missing', 'h1', _agg('a')),
                        placement_mirror.Drift('stale', 'h2', _agg('b'))]
        report.unknown = {'h3': ['c']}
        report.waiting = [
            # Covered by the drift above, and one of a deleted aggregate.
            {'aggregate_uuid': 'uuid-a', 'host': 'h1', 'attempts': 1,
             'last_error': 'PlacementUnavailable: down'},
            {'aggregate_uuid': 'uuid-gone', 'host': 'h4', 'attempts': 0,
             'last_error': None}]
        self.assertEqual(4, report.remaining)
        lines = report.lines()
        self.assertIn('missing: h1 lacks aggregate a (uuid-a) (would repair)',
                      lines)
        self.assertIn('stale: h2 still has aggregate b (uuid-b) (would '
                      'repair)', lines)
        self.assertIn('unknown resource provider: h3 (member of c)', lines)
        self.assertIn('waiting: host h4, aggregate uuid-gone, 0 attempts: '
                      'not tried yet', lines)
        self.assertEqual('Drift remaining: 4.', lines[-1])

    def test_repair_counts_what_still_waits(self):
        report = placement_mirror.SyncReport(dry_run=False)
        repaired = placement_mirror.Drift('missing', 'h1', _agg('a'),
                                          repaired=True)
        failed = placement_mirror.Drift('stale', 'h2', _agg('b'))
        report.drift = [repaired, failed]
        report.waiting = [{'aggregate_uuid': 'uuid-b', 'host': 'h2',
                           'attempts': 1, 'last_error': 'x'}]
        self.assertEqual(1, report.remaining)
        lines = report.lines()
        self.assertIn('missing: h1 lacks aggregate a (uuid-a): repaired',
                      lines)
        self.assertIn('stale: h2 still has aggregate b (uuid-b): NOT '
                      'repaired', lines)
