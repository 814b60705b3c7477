"""Task ownership: who may take over a task whose owner is gone.  Owners
are coordination members (tooz locks, here the file backend); a member in
another process is alive while that process runs, gone once it exits."""

import datetime
import os
import socket
import subprocess
import sys
import tempfile

import testtools

from nova_aggregates.aggregates import lease
from nova_aggregates import coordination

NOW = datetime.datetime(2012, 3, 1, 10, 0, 0)

# A member in a child process: prints its id, then holds it until stdin
# closes.
_CHILD = """
import sys
from nova_aggregates import coordination
member = coordination.Coordinator(sys.argv[1])
print(member.member(), flush=True)
sys.stdin.read()
"""


def _dead_pid():
    process = subprocess.Popen(['true'])
    process.wait()
    return process.pid


class TestLease(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.url = 'file://' + tempfile.mkdtemp()
        coordination.reset()
        coordination._coordinator = coordination.Coordinator(self.url)
        self.addCleanup(coordination.reset)

    def child_member(self):
        child = subprocess.Popen(
            [sys.executable, '-c', _CHILD, self.url], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(child.wait)
        self.addCleanup(child.stdin.close)
        return child, child.stdout.readline().strip()

    def test_this_process(self):
        owner = lease.this_process()
        hostname, pid, token = owner.split(':')
        self.assertEqual((socket.gethostname(), str(os.getpid())),
                         (hostname, pid))
        self.assertEqual(12, len(token))
        self.assertEqual(owner, lease.this_process())
        self.assertFalse(lease.is_gone(owner, NOW, NOW))

    def test_member_of_another_process_alive_then_gone(self):
        child, owner = self.child_member()
        self.assertFalse(lease.is_gone(owner, NOW, NOW))
        child.stdin.close()
        child.wait()
        self.assertTrue(lease.is_gone(owner, NOW, NOW))

    def test_member_killed(self):
        child, owner = self.child_member()
        child.kill()
        child.wait()
        self.assertTrue(lease.is_gone(owner, NOW, NOW))

    def test_member_elsewhere_is_asked_not_guessed(self):
        # Never seen by this backend: its lock is free, so it is gone,
        # however recent (no --stale-after needed).
        self.assertTrue(lease.is_gone('other-node:42:0123456789ab', NOW, NOW))

    def test_stale_after_still_overrides(self):
        child, owner = self.child_member()
        started = NOW - datetime.timedelta(seconds=60)
        self.assertFalse(lease.is_gone(owner, started, NOW, stale_after=60))
        self.assertTrue(lease.is_gone(owner, started, NOW, stale_after=59))

    def test_legacy_owners(self):
        here = socket.gethostname()
        self.assertTrue(lease.is_gone('%s:%d' % (here, _dead_pid()), NOW,
                                      NOW))
        self.assertFalse(lease.is_gone('%s:%d' % (here, os.getppid()), NOW,
                                       NOW))
        self.assertFalse(lease.is_gone('other-node:42', NOW, NOW))

    def test_no_owner(self):
        self.assertTrue(lease.is_gone(None, None, NOW))
        self.assertTrue(lease.is_gone('', NOW, NOW))
        self.assertFalse(lease.is_gone('garbage', NOW, NOW))


class TestBackendURL(testtools.TestCase):

    def conf(self, connection, backend_url=None, lease_seconds=30):
        class Group:
            pass
        conf = Group()
        conf.coordination, conf.database, conf.maintenance = \
            Group(), Group(), Group()
        conf.coordination.backend_url = backend_url
        conf.database.connection = connection
        conf.maintenance.task_lease_seconds = lease_seconds
        return conf

    def test_from_the_database(self):
        self.assertEqual(
            'postgresql://u:p%40ss@db.example:5433/nova_aggregates',
            coordination.backend_url(self.conf(
                'postgresql+psycopg2://u:p%40ss@db.example:5433/'
                'nova_aggregates?sslmode=require')))
        self.assertEqual('mysql://u:p@db/agg', coordination.backend_url(
            self.conf('mysql+pymysql://u:p@db/agg?charset=utf8mb4')))
        self.assertEqual('file:///var/lib/na/agg.db.locks',
                         coordination.backend_url(self.conf(
                             'sqlite:////var/lib/na/agg.db')))
        self.assertTrue(coordination.backend_url(self.conf(
            'sqlite://')).startswith('file://'))

    def test_ttl_backends_get_the_lease(self):
        self.assertEqual('etcd3+http://e:2379?timeout=12',
                         coordination.backend_url(self.conf(
                             'sqlite://', 'etcd3+http://e:2379', 12)))
        self.assertEqual('redis://r:6379?db=2&timeout=30',
                         coordination.backend_url(self.conf(
                             'sqlite://', 'redis://r:6379?db=2')))
        self.assertEqual('zookeeper://z:2181?timeout=5',
                         coordination.backend_url(self.conf(
                             'sqlite://', 'zookeeper://z:2181?timeout=5')))
