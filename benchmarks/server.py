"""Servers under test as subprocesses: configuration file, database,
registered hosts, start on a free loopback port, wait, SIGTERM."""

import http.client
import json
import os
import signal
import subprocess
import sys

from benchmarks.transport import BenchmarkError
from tests.support import process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = process.BIN
free_port = process.free_port
_script = process.script


def write_config(path, database, port, workers=1, driver='fake',
                 xenapi_hosts=0, password='secret', threads=None,
                 extra=None, server=None):
    """``extra``: ``{section: {option: value}}`` added last; ``server``:
    ``[api] server`` (None: the default)."""
    api = {'bind_host': '127.0.0.1', 'bind_port': port, 'workers': workers}
    if threads:
        api['threads'] = threads
    if server:
        api['server'] = server
    api['auth_strategy'] = 'noauth2'
    sections = {
        'DEFAULT': {'compute_driver': driver},
        'api': api,
        'database': {'connection': 'sqlite:///%s' % database},
    }
    if driver == 'xenapi':
        sections['xenapi'] = {'connection_username': 'root',
                              'connection_password': password}
        sections['xenserver_sim'] = {'hosts': xenapi_hosts,
                                     'password': password}
    return process.write_config(path, process.merge_sections(sections,
                                                             extra))


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


class Server(process.ServerProcess):
    """A server subprocess listening on 127.0.0.1:``port``, run from the
    repository's directory; start failures are BenchmarkErrors."""

    def __init__(self, cmd, port, log, name):
        super().__init__(cmd, port, log, name, cwd=REPO)
        self.cmd = cmd
        self.log = log

    def start(self, timeout=60.0):
        try:
            return super().start(timeout)
        except process.ServerStartError as exc:
            raise BenchmarkError(str(exc))

    def log_tail(self, lines=30):
        return super().log_tail(lines)

    def log_text(self):
        return self.output()

    def stop(self, timeout=40.0):
        """SIGTERM (graceful gunicorn stop), SIGKILL of this server's own
        process group if it hangs."""
        super().stop(signal.SIGTERM, timeout)

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
