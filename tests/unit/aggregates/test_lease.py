"""Task ownership: who may take over a task whose owner is gone."""

import datetime
import os
import socket
import subprocess

import testtools

from nova_aggregates.aggregates import lease

NOW = datetime.datetime(2012, 3, 1, 10, 0, 0)


def _dead_pid():
    process = subprocess.Popen(['true'])
    process.wait()
    return process.pid


class TestLease(testtools.TestCase):

    def test_this_process(self):
        self.assertEqual('%s:%d' % (socket.gethostname(), os.getpid()),
                         lease.this_process())
        self.assertFalse(lease.is_gone(lease.this_process(), NOW, NOW))

    def test_owner_of_this_machine(self):
        here = socket.gethostname()
        self.assertTrue(lease.is_gone('%s:%d' % (here, _dead_pid()), NOW,
                                      NOW))
        self.assertFalse(lease.is_gone('%s:%d' % (here, os.getppid()), NOW,
                                       NOW))

    def test_owner_elsewhere_only_when_stale(self):
        started = NOW - datetime.timedelta(seconds=60)
        self.assertFalse(lease.is_gone('other-node:42', started, NOW))
        self.assertFalse(lease.is_gone('other-node:42', started, NOW,
                                       stale_after=60))
        self.assertTrue(lease.is_gone('other-node:42', started, NOW,
                                      stale_after=59))

    def test_no_owner(self):
        self.assertTrue(lease.is_gone(None, None, NOW))
        self.assertTrue(lease.is_gone('', NOW, NOW))
        self.assertFalse(lease.is_gone('garbage', NOW, NOW))
