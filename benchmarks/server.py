"""Servers under test as subprocesses: configuration file, database,
registered hosts, start on a free loopback port, wait, SIGTERM."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from benchmarks.transport import BenchmarkError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _script(name):
    path = os.path.join(BIN, name)
    return [path] if os.path.exists(path) else [sys.executable, '-m', name]


def write_config(path, database, port, workers=1, driver='fake',
                 xenapi_hosts=0, password='secret', threads=None):
    lines = [
        '[DEFAULT]',
        'compute_driver = %s' % driver,
        '',
        '[api]',
        'bind_host = 127.0.0.1',
        'bind_port = %d' % port,
        'workers = %d' % workers,
    ] + (['threads = %d' % threads] if threads else []) + [
        'auth_strategy = noauth2',
        '',
        '[database]',
        'connection = sqlite:///%s' % database,
        '',
    ]
    if driver == 'xenapi':
        lines += [
            '[xenapi]',
            'connection_username = root',
            'connection_password = %s' % password,
            '',
            '[xenserver_sim]',
            'hosts = %d' % xenapi_hosts,
            'password = %s' % password,
            '',
        ]
    with open(path, 'w') as fh:
        fh.write('\n'.join(lines))
    return path


def prepare_databases(jobs):
    """For each (config file, hosts [(name, zone)], log): ``db sync`` and
    register the hosts, in child processes run in parallel (``python -m
    benchmarks.dbsetup``), so this process keeps no configuration or
    database state of its own."""
    procs = []
    for config_file, hosts, log in jobs:
        hosts_file = config_file + '.hosts.json'
        with open(hosts_file, 'w') as fh:
            json.dump(hosts, fh)
        cmd = [sys.executable, '-m', 'benchmarks.dbsetup', '--config-file',
               config_file, '--hosts-file', hosts_file]
        with open(log, 'ab') as out:
            procs.append((subprocess.Popen(cmd, cwd=REPO, stdout=out,
                                           stderr=out), log))
    failed = [(proc.wait(), log) for proc, log in procs]
    failed = [(rc, log) for rc, log in failed if rc != 0]
    if failed:
        raise BenchmarkError('database setup failed (exit %d), see %s'
                             % failed[0])


class Server:
    """A server subprocess listening on 127.0.0.1:``port``."""

    def __init__(self, cmd, port, log, name):
        self.cmd = cmd
        self.port = port
        self.log = log
        self.name = name
        self.proc = None

    def start(self, timeout=60.0):
        out = open(self.log, 'ab')
        try:
            self.proc = subprocess.Popen(self.cmd, cwd=REPO, stdout=out,
                                         stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchmarkError('%s exited with %s at start; log:\n%s'
                                     % (self.name, self.proc.returncode,
                                        self.log_tail()))
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise BenchmarkError('%s did not answer within %.0f s; log:\n%s'
                             % (self.name, timeout, self.log_tail()))

    def _answers(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=2)
        try:
            conn.request('GET', '/')
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log_tail(self, lines=30):
        try:
            with open(self.log, 'rb') as fh:
                text = fh.read().decode('utf-8', 'replace')
        except OSError:
            return ''
        return '\n'.join(text.splitlines()[-lines:])

    def log_text(self):
        try:
            with open(self.log, 'rb') as fh:
                return fh.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def stop(self, timeout=40.0):
        """SIGTERM (graceful gunicorn stop), SIGKILL of this server's own
        process group only if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def api_server(config_file, port, log):
    return Server(_script('nova-aggregates-api') + ['--config-file',
                                                    config_file],
                  port, log, 'nova-aggregates-api')


def hello_server(config_file, port, log):
    return Server([sys.executable, '-m', 'benchmarks.hello',
                   '--config-file', config_file], port, log, 'hello')


# -- the embedded simulator's admin endpoint ------------------------------

def _listening_ports(pid):
    """Loopback TCP ports on which process ``pid`` listens (Linux)."""
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for name in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    ports = []
    with open('/proc/%d/net/tcp' % pid) as fh:
        next(fh)
        for line in fh:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            address, port = local.split(':')
            if state == '0A' and inode in inodes and address == '0100007F':
                ports.append(int(port, 16))
    return ports


def find_control_url(server, exclude_ports):
    """The embedded simulator's admin endpoint when the server does not
    print it (older nova-aggregates-api): the listening socket of the
    server process on 127.0.0.1 that is neither the API nor a simulated
    host and answers ``GET /calls`` with a JSON list."""
    try:
        ports = _listening_ports(server.pid)
    except OSError as exc:
        raise BenchmarkError('cannot list the sockets of %s: %s'
                             % (server.pid, exc))
    for port in ports:
        if port in exclude_ports:
            continue
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        try:
            conn.request('GET', '/calls')
            answer = conn.getresponse()
            if answer.status == 200 and isinstance(
                    json.loads(answer.read()), list):
                return 'http://127.0.0.1:%d/' % port
        except (OSError, ValueError, http.client.HTTPException):
            continue
        finally:
            conn.close()
    raise BenchmarkError('no simulator admin endpoint among ports %s of '
                         'process %s' % (ports, server.pid))


# -- CPU time of the server's processes ------------------------------------

def child_pids(pid):
    """Direct children of ``pid`` (gunicorn's workers of the arbiter)."""
    children = set()
    try:
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/children' % (pid, tid)) as fh:
                children.update(int(c) for c in fh.read().split())
    except OSError:
        pass
    return sorted(children)


def cpu_seconds(pids):
    """CPU time of every thread of ``pids`` so far (Linux schedstat,
    nanosecond resolution); None where /proc does not tell."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir('/proc/%d/task' % pid)
        except OSError:
            return None
        for tid in tids:
            try:
                with open('/proc/%d/task/%s/schedstat' % (pid, tid)) as fh:
                    total += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that just ended
    return total / 1e9


class CPUMeter:
    """CPU seconds the server's worker processes spent since the last
    ``take()``: per request, when taken after each answer."""

    def __init__(self, server):
        self.pids = child_pids(server.pid)
        self.last = cpu_seconds(self.pids) if self.pids else None

    @property
    def available(self):
        return self.last is not None

    def reset(self):
        if self.available:
            self.last = cpu_seconds(self.pids)

    def take(self):
        if not self.available:
            return None
        now = cpu_seconds(self.pids)
        if now is None:
            return None
        spent, self.last = now - self.last, now
        return spent
