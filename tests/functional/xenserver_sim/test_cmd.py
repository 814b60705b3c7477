"""The nova-aggregates-xenserver-sim command, run as a real subprocess."""

import os
import queue
import signal
import socket
import subprocess
import sys
import threading

import testtools
import XenAPI

from nova_aggregates.xenserver_sim import cli

REPO_ROOT = os.path.abspath(
    os.path.join(os.path.dirname(__file__), *[os.pardir] * 3)
)


class TestCommand(testtools.TestCase):
    def start(self, *args):
        proc = subprocess.Popen(
            [sys.executable, '-m', 'nova_aggregates.xenserver_sim']
            + list(args),
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(self._reap, proc)
        lines = queue.Queue()

        def pump():
            for line in proc.stdout:
                lines.put(line.rstrip('\n'))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        return proc, lines

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    def read_until_ready(self, lines):
        seen = []
        while True:
            line = lines.get(timeout=20)
            self.assertIsNotNone(line, 'simulator exited early: %s' % seen)
            if line == 'ready':
                return seen
            seen.append(line)

    def test_prints_hosts_then_serves_until_sigterm(self):
        proc, lines = self.start(
            '--hosts', '2', '--password', 'pw', '--show-pools'
        )
        seen = self.read_until_ready(lines)
        self.assertEqual(
            ['host', 'host', 'control', 'credentials', 'pool', 'pool'],
            [line.split()[0] for line in seen],
        )
        self.assertEqual('credentials root pw', seen[3])
        name, url, uuid = seen[0].split()[1:]
        self.assertEqual('xenhost1', name)
        self.assertTrue(url.startswith('http://127.0.0.11:'))
        self.assertTrue(seen[2].split()[1].startswith('http://127.0.0.1:'))
        self.assertIn('master=xenhost2 members=xenhost2', seen[5])

        session = XenAPI.Session(url)
        self.addCleanup(session('close'))
        session.login_with_password('root', 'pw')
        host = session.xenapi.session.get_this_host(session.handle)
        self.assertEqual(uuid, session.xenapi.host.get_uuid(host))
        # --show-pools reports changes.
        joiner = XenAPI.Session(seen[1].split()[2])
        self.addCleanup(joiner('close'))
        joiner.login_with_password('root', 'pw')
        joiner.xenapi.pool.join('127.0.0.11', 'root', 'pw')
        self.assertIn('members=xenhost1,xenhost2', lines.get(timeout=10))

        proc.send_signal(signal.SIGTERM)
        self.assertEqual(0, proc.wait(timeout=10))
        self.assertRaises(ConnectionRefusedError, session.xenapi.pool.get_all)

    @staticmethod
    def two_free_ports():
        """A port P such that P and P+1 are both free right now."""
        for _ in range(50):
            with socket.socket() as first:
                first.bind(('127.0.0.1', 0))
                port = first.getsockname()[1]
                with socket.socket() as second:
                    try:
                        second.bind(('127.0.0.1', port + 1))
                    except OSError:
                        continue
                    return port
        raise RuntimeError('no two consecutive free ports')

    def test_sigint_tls_and_fixed_ports(self):
        port = self.two_free_ports()
        proc, lines = self.start(
            '--hosts',
            '2',
            '--no-distinct-addresses',
            '--tls',
            '--port',
            str(port),
        )
        seen = self.read_until_ready(lines)
        self.assertEqual(
            ['host', 'host', 'control', 'credentials', 'ca'],
            [line.split()[0] for line in seen],
        )
        self.assertEqual(
            [
                'https://127.0.0.1:%d/' % port,
                'https://127.0.0.1:%d/' % (port + 1),
            ],
            [line.split()[2] for line in seen[:2]],
        )
        session = XenAPI.Session(seen[1].split()[2], ignore_ssl=True)
        self.addCleanup(session('close'))
        session.login_with_password('root', 'secret')
        self.assertEqual(
            '127.0.0.1:%d' % (port + 1),
            session.xenapi.host.get_address(
                session.xenapi.session.get_this_host(session.handle)
            ),
        )
        proc.send_signal(signal.SIGINT)
        self.assertEqual(0, proc.wait(timeout=10))

    def test_parser_defaults(self):
        args = cli.build_parser().parse_args([])
        self.assertEqual(
            (4, 'root', 'secret', False, 0, '127.0.0.1', True),
            (
                args.hosts,
                args.username,
                args.password,
                args.tls,
                args.port,
                args.bind_address,
                args.distinct_addresses,
            ),
        )
