"""Crash recovery on a real (SQLite) database with the fake driver."""

import socket
import subprocess

from nova_aggregates.aggregates import lease
from nova_aggregates.aggregates import recovery
from nova_aggregates.db import api as db
from tests.functional.aggregates import test_manager


class TestReconcile(test_manager.ManagerTestCase):
    """Pool operations a dead process left ``changing`` (fake driver: the
    recorded pool is the real one)."""

    def setUp(self):
        super().setUp()
        self.recovery = recovery.Recovery(self.manager)

    def _interrupted_pool(self, pending_host):
        agg = self.manager.create_aggregate(self.context, 'pool')
        self.manager.set_metadata(self.context, agg['id'],
                                  {'hypervisor_pool': 'true'})
        self.manager.add_host(self.context, agg['id'], 'host1')
        # What a process of this machine killed during add_host leaves.
        dead = subprocess.Popen(['true'])
        dead.wait()
        db.aggregate_update(self.context, agg['id'],
                            operational_state='changing',
                            pending_host=pending_host,
                            task_owner='%s:%d' % (socket.gethostname(),
                                                  dead.pid),
                            task_started_at=db.now())
        return agg['id']

    def test_repairs_an_interrupted_operation(self):
        agg_id = self._interrupted_pool('host2')
        self.assertEqual([agg_id], self.recovery.reconcile_interrupted(
            self.context))
        agg = self.manager.get_aggregate(self.context, agg_id)
        self.assertEqual('active', agg['operational_state'])
        self.assertIsNone(agg['metadata'].get('last_error'))
        # The fake hypervisor accepts every join: the interrupted add of
        # host2 happened there, so the database records it.
        self.assertEqual(['host1', 'host2'], agg['hosts'])

    def test_pending_host_unregistered_meanwhile(self):
        agg_id = self._interrupted_pool('host3')
        self.hosts.unregister(self.context, 'host3')
        self.assertEqual([agg_id], self.recovery.reconcile_interrupted(
            self.context))
        agg = self.manager.get_aggregate(self.context, agg_id)
        self.assertEqual('active', agg['operational_state'])
        self.assertEqual(['host1'], agg['hosts'])

    def test_live_owner_is_left_alone(self):
        agg_id = self._interrupted_pool('host2')
        db.aggregate_update(self.context, agg_id,
                            task_owner=lease.this_process())
        self.assertEqual([], self.recovery.reconcile_interrupted(self.context))
        self.assertEqual('changing', self.manager.get_aggregate(
            self.context, agg_id)['operational_state'])

    def test_other_machines_owner_only_when_stale(self):
        agg_id = self._interrupted_pool('host2')
        db.aggregate_update(self.context, agg_id,
                            task_owner='another-api-node:4242')
        self.assertEqual([], self.recovery.reconcile_interrupted(self.context))
        self.assertEqual([agg_id], self.recovery.reconcile_interrupted(
            self.context, stale_after=0))
