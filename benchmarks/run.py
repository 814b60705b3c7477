"""``python -m benchmarks.run`` (``make bench``): the os-aggregates benchmark.

Servers are started on free loopback ports (SQLite databases migrated and
hosts registered beforehand, in parallel child processes):

1. the floor: a bare "hello" WSGI app under the API's server setup;
2. the workload (fake driver, one client over HTTP keep-alive): create A,
   add H hosts each, set M keys each, list R times, show each -- then,
   with the A aggregates in place, throughput of show and list with 8
   concurrent clients against ``[api] workers`` = 1 and 2 (servers side by
   side on the same database, windows alternating) -- then update each,
   remove the hosts, delete; every answer verified;
3. the scaling run on the same, emptied, server: aggregates accumulate
   (one host each) and add_host, show, list and the list's poll are timed
   at 100, 1,000 and 10,000 aggregates; then the smallest size on a server
   of its own beside the largest, blocks taking turns, for the growth
   verdicts of add_host and the poll (``workload.run_side_by_side``);
4. pool aggregates with the xenapi driver on the embedded XenServer
   simulator: latency, XenAPI calls and logins per operation;
5. host maintenance on the same kind of server: a host's G guests
   live-migrated away and back (G = 0, 10, 50), latency and XenAPI calls
   per guest moved;
6. Placement mirroring (``benchmarks/mirroring.py``): a real Placement
   (Nova venv) with a resource provider per host, and two fake-driver
   servers side by side, ``[placement] mirror_aggregates`` on and off;
   create, add_host, remove_host and delete sent to both in lock-step,
   every answer verified and Placement's memberships read back over its
   API (skipped without ``.services/nova``);
7. host matching (``benchmarks/host_matching.py``): ``POST
   os-host-matching`` at 1,000 hosts in 200 aggregates of 10 keys, every
   answer checked against an independent evaluation, and its SQL
   statements at two sizes;
8. in-process (paste app, no sockets): SQL statements per request at a
   small and the given size and as aggregates accumulate; with
   ``--profile``, cProfile of each operation.

Prints the tables and writes all figures as JSON (``--output``).  Exit
status 1 if any answer was wrong or a server misbehaved.  Speed itself is
never a failure: compare the verdict column with doc/performance.md.
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback

from benchmarks import concurrency
from benchmarks import host_matching
from benchmarks import mirroring
from benchmarks import report
from benchmarks import server as srv
from benchmarks import stats
from benchmarks.transport import BenchmarkError
from benchmarks.transport import HTTPTransport
from benchmarks import workload as wl

DEFAULT_OUTPUT = os.path.join(srv.REPO, 'var', 'bench', 'latest.json')

QUICK = {
    'aggregates': 10, 'hosts': 2, 'keys': 2, 'lists': 3,
    'scaling_sizes': [10, 20, 40], 'scaling_sample': 5, 'scaling_lists': 3,
    'side_by_side_blocks': 2,
    'hello_requests': 200, 'concurrency_duration': 0.5, 'clients': 4,
    'concurrency_repeats': 1,
    'pools': 2, 'pool_hosts': 2, 'pool_rounds': 3,
    'maintenance_guests': [0, 2], 'maintenance_rounds': 1,
}
QUICK.update(host_matching.QUICK)
QUICK.update(mirroring.QUICK)


PARTS = ('hello', 'workload', 'concurrency', 'xenapi', 'maintenance',
         'placement', 'matching', 'sql', 'profile')


def _sizes(text):
    return [int(v) for v in text.split(',') if v.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='python -m benchmarks.run',
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('-A', '--aggregates', type=int, default=200)
    p.add_argument('-H', '--hosts', type=int, default=5,
                   help='hosts per aggregate')
    p.add_argument('-M', '--keys', type=int, default=5,
                   help='metadata keys per aggregate (one set_metadata)')
    p.add_argument('-R', '--lists', type=int, default=20,
                   help='number of list requests')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--scaling-sizes', type=_sizes, default=[100, 1000, 10000],
                   help='comma-separated aggregate counts')
    p.add_argument('--scaling-sample', type=int, default=50,
                   help='add_host/show timed at each size')
    p.add_argument('--scaling-lists', type=int, default=10,
                   help='lists timed at each size')
    p.add_argument('--no-scaling', action='store_true')
    p.add_argument('--side-by-side-blocks', type=int, default=10,
                   help='blocks per size of the scaling run\'s smallest '
                        'and largest sizes measured side by side (the '
                        'growth verdicts); 0: compare the growing run\'s '
                        'sizes instead')
    p.add_argument('--hello-requests', type=int, default=2000)
    p.add_argument('--clients', type=int, default=8,
                   help='concurrent clients of the throughput run')
    p.add_argument('--concurrency-duration', type=float, default=3.0,
                   help='seconds per measurement window')
    p.add_argument('--concurrency-repeats', type=int, default=3,
                   help='windows per operation and worker count, '
                        'alternating between the servers')
    p.add_argument('--workers', type=_sizes, default=[1, 2],
                   help='[api] workers values of the throughput run')
    p.add_argument('--server', choices=('gunicorn', 'granian'), default=None,
                   help='[api] server of every API server and of the hello '
                        'floor (default: the default, gunicorn)')
    p.add_argument('--threads', type=int, default=None,
                   help='[api] threads of every API server (default: the '
                        'server\'s own default)')
    p.add_argument('--no-concurrency', action='store_true')
    p.add_argument('--pools', type=int, default=4,
                   help='pool aggregates per round (xenapi run)')
    p.add_argument('--pool-hosts', type=int, default=None,
                   help='hosts per pool (default: --hosts)')
    p.add_argument('--pool-rounds', type=int, default=3,
                   help='3 covers cold and warm form and join')
    p.add_argument('--no-xenapi', action='store_true')
    p.add_argument('--maintenance-guests', type=_sizes, default=[0, 10, 50],
                   help='guests per host, comma-separated: one pool of 3 '
                        'hosts each (maintenance run)')
    p.add_argument('--maintenance-rounds', type=int, default=2,
                   help='times each host is taken through maintenance')
    p.add_argument('--maintenance-poll-interval', type=float, default=0.02,
                   help='[xenapi] poll_interval of the maintenance run: '
                        'the wait before each check of a migration task')
    p.add_argument('--no-maintenance', action='store_true')
    mirroring.add_arguments(p)
    host_matching.add_arguments(p)
    p.add_argument('--no-matching', action='store_true',
                   help='skip the host matching part')
    p.add_argument('--no-sql', action='store_true',
                   help='skip the in-process SQL statement count')
    p.add_argument('--profile', action='store_true',
                   help='also cProfile each operation in-process')
    p.add_argument('--profile-top', type=int, default=12)
    p.add_argument('--only', type=lambda v: set(v.split(',')),
                   default=None,
                   help='run only these parts, comma-separated: %s'
                        % ','.join(PARTS))
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes: a smoke test of every part (about 25 s)')
    p.add_argument('--output', default=DEFAULT_OUTPUT,
                   help='JSON results file')
    p.add_argument('--keep', action='store_true',
                   help='keep the temporary directory (configs, logs, '
                        'databases)')
    args = p.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    if args.pool_hosts is None:
        args.pool_hosts = args.hosts
    if args.only is None:
        args.only = {'hello', 'workload', 'concurrency', 'placement',
                     'xenapi', 'maintenance', 'matching', 'sql'}
        for name, skip in (('concurrency', args.no_concurrency),
                           ('placement', args.no_placement),
                           ('xenapi', args.no_xenapi),
                           ('maintenance', args.no_maintenance),
                           ('matching', args.no_matching),
                           ('sql', args.no_sql)):
            if skip:
                args.only.discard(name)
        if args.profile:
            args.only.add('profile')
    if 'concurrency' in args.only:
        # It runs on the workload's populated database.
        args.only.add('workload')
    unknown = args.only - set(PARTS)
    if unknown:
        p.error('unknown parts: %s' % ', '.join(sorted(unknown)))
    return args


def say(text):
    print(text, flush=True)


# -- machine --------------------------------------------------------------

def _hello_request(transport):
    """One request to the floor's server, checked; its latency."""
    resp = transport.request('GET', '/').expect(200)
    if resp.body != b'{"hello": "world"}':
        raise BenchmarkError('hello: wrong answer %r' % resp.body)
    return resp.elapsed


def _loadavg():
    try:
        with open('/proc/loadavg') as fh:
            return ' '.join(fh.read().split()[:3])
    except OSError:
        return None


def machine():
    import sqlite3

    import granian
    import gunicorn
    import sqlalchemy
    info = {
        'date': datetime.datetime.now().isoformat(timespec='seconds'),
        'platform': platform.platform(),
        'python': platform.python_version(),
        'cpus': os.cpu_count(),
        'sqlite': sqlite3.sqlite_version,
        'sqlalchemy': sqlalchemy.__version__,
        'gunicorn': gunicorn.__version__,
        'granian': granian.__version__,
        'loadavg_start': _loadavg(),
    }
    try:
        with open('/proc/cpuinfo') as fh:
            models = re.findall(r'^model name\s*:\s*(.*)$', fh.read(), re.M)
        info['cpu'] = models[0] if models else platform.processor()
        with open('/proc/meminfo') as fh:
            info['memory'] = fh.readline().split(':', 1)[1].strip()
    except OSError:
        pass
    return info


# -- the parts ------------------------------------------------------------

_REQUEST_LOG = re.compile(
    rb'^\S+ \S+ (\d+) \w+ nova_aggregates\.api\.requests ', re.M)


def _requests_per_pid(log, offset):
    """Requests each worker process logged after ``offset`` (its request
    log line names the pid), most first."""
    with open(log, 'rb') as fh:
        fh.seek(offset)
        text = fh.read()
    counts = {}
    for pid in _REQUEST_LOG.findall(text):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


class Bench:

    def __init__(self, args, tmpdir):
        self.args = args
        self.tmp = tmpdir
        self.results = {}

    def path(self, name):
        return os.path.join(self.tmp, name)

    def config(self, name, port, **kwargs):
        return srv.write_config(self.path(name + '.conf'),
                                self.path(name + '.sqlite'), port,
                                threads=self.args.threads,
                                server=self.args.server, **kwargs)

    @staticmethod
    def recorder_callback(recorder):
        """record(op, resp): the latency."""
        def record(op, resp, **extra):
            recorder.add(op, resp.elapsed, **extra)
        return record

    @classmethod
    def recorders_by_size(cls):
        """``(recorders, record_for)``: ``record_for(size)`` starts the
        Recorder ``recorders[size]`` and returns its record callable."""
        recorders = {}

        def record_for(size):
            recorders[size] = stats.Recorder()
            return cls.recorder_callback(recorders[size])
        return recorders, record_for

    @staticmethod
    def cpu_span(recorder, cpu):
        """``span(op)`` for a Workload: the server's CPU time (``cpu``, a
        CPUMeter) over each run of one operation's requests, per request.
        Read at the run's two ends only: reading /proc after every answer
        slowed the server's next one (polls by a fifth)."""
        @contextlib.contextmanager
        def span(op):
            before = len(recorder.latencies.get(op, ()))
            cpu.reset()
            yield
            spent = cpu.take()
            requests = len(recorder.latencies.get(op, ())) - before
            if spent is not None and requests:
                recorder.add_cpu(op, spent, requests)
        return span if cpu.available else None

    def hello(self):
        port = srv.free_port()
        conf = self.config('hello', port)
        with srv.hello_server(conf, port, self.path('hello.log')).start() \
                as server:
            transport = HTTPTransport(port)
            for _ in range(50):
                transport.request('GET', '/').expect(200)
            cpu = srv.CPUMeter(server)
            latencies = [_hello_request(transport)
                         for _ in range(self.args.hello_requests)]
            spent = cpu.take()
            transport.close()
        summary = stats.summarize(latencies)
        if spent is not None:
            summary['server_cpu_ms'] = 1000.0 * spent / len(latencies)
        self.results['hello'] = summary
        say('  hello floor: median %.3f ms, p99 %.3f ms, %.0f req/s' % (
            summary['median_ms'], summary['p99_ms'], summary['ops_per_s']))
        return summary

    @contextlib.contextmanager
    def floor_alongside(self):
        """A hello server for the read phase: ``floor()`` sends it one
        request and returns its latency (the polls' floor, measured among
        them: the machine's speed drifts over a run)."""
        port = srv.free_port()
        conf = self.config('hello-near-polls', port)
        with srv.hello_server(conf, port, self.path(
                'hello-near-polls.log')).start():
            transport = HTTPTransport(port)
            for _ in range(50):
                transport.request('GET', '/').expect(200)
            try:
                yield lambda: _hello_request(transport)
            finally:
                transport.close()

    def prepare(self):
        """Migrate the databases and register hosts, in parallel child
        processes, before anything is timed."""
        a = self.args
        jobs = []
        if 'workload' in a.only:
            scaling = self.scaling_sizes()
            self.fake_port = srv.free_port()
            conf = self.config('fake', self.fake_port)
            jobs.append((conf, wl.hosts_to_register(
                a.aggregates, a.hosts, max(scaling) if scaling else 0),
                self.path('fake.log')))
            if self.side_by_side_spares():
                # The smallest size's own server, for the side-by-side
                # comparison: its aggregates' hosts and their spares.
                self.reference_port = srv.free_port()
                conf = self.config('scaling-reference', self.reference_port)
                jobs.append((conf, wl.hosts_to_register(
                    self.side_by_side_spares(), 2, min(scaling)),
                    self.path('scaling-reference.log')))
        if 'placement' in a.only and self.placement_available():
            self.mirror_ports, mirror_jobs = mirroring.prepare_jobs(
                self.tmp, a)
            jobs.extend(mirror_jobs)
        if 'xenapi' in a.only and self.xenapi_available():
            self.xenapi_port = srv.free_port()
            conf = self.config('xenapi', self.xenapi_port, driver='xenapi',
                               xenapi_hosts=a.pools * a.pool_hosts)
            jobs.append((conf, [], self.path('xenapi.log')))
        if 'maintenance' in a.only and self.xenapi_available():
            from benchmarks import maintenance
            self.maintenance_port = srv.free_port()
            conf = self.config(
                'maintenance', self.maintenance_port, driver='xenapi',
                xenapi_hosts=maintenance.hosts_needed(
                    a.maintenance_guests),
                extra={'xenapi': {
                    'poll_interval': a.maintenance_poll_interval}})
            jobs.append((conf, [], self.path('maintenance.log')))
        srv.prepare_databases(jobs)

    def scaling_sizes(self):
        return [] if self.args.no_scaling else sorted(self.args.scaling_sizes)

    def side_by_side_spares(self):
        """How many aggregates the side-by-side comparison adds a spare
        host to (the workload's second hosts serve on the main server):
        0 for no comparison."""
        a, scaling = self.args, self.scaling_sizes()
        if len(scaling) < 2 or a.hosts < 2 or a.side_by_side_blocks < 1:
            return 0
        return min(a.aggregates, min(scaling))

    def placement_available(self):
        if not hasattr(self, '_placement_problem'):
            self._placement_problem = mirroring.unavailable()
        return self._placement_problem is None

    def xenapi_available(self):
        if not hasattr(self, '_xenapi_error'):
            self._xenapi_error = None
            try:
                import nova_aggregates.virt.xenapi.driver  # noqa: F401
                import nova_aggregates.xenserver_sim  # noqa: F401
            except ImportError as exc:
                self._xenapi_error = str(exc)
        return self._xenapi_error is None

    def fake(self):
        """The single-client workload; between its read and its teardown
        phases (A full aggregates in the database) the concurrent-client
        run; then the scaling run on the emptied database."""
        a = self.args
        scaling = self.scaling_sizes()
        port = self.fake_port
        log = self.path('fake.log')
        with srv.api_server(self.path('fake.conf'), port, log).start() \
                as server:
            transport = HTTPTransport(port)
            # Warm-up: every code path once (lazy imports, policy, pool).
            wl.Workload(transport, 3, 1, 1, 2, seed=a.seed,
                        prefix='warmup').run()
            recorder = stats.Recorder()
            cpu = srv.CPUMeter(server)
            record = self.recorder_callback(recorder)
            work = wl.Workload(transport, a.aggregates, a.hosts, a.keys,
                               a.lists, seed=a.seed,
                               span=self.cpu_span(recorder, cpu))
            started = time.monotonic()
            work.populate(record)
            with self.floor_alongside() as floor:
                work.read(record, floor)
            elapsed = time.monotonic() - started
            if 'concurrency' in a.only:
                self.concurrency(server, log, work)
            started = time.monotonic()
            work.teardown(record)
            elapsed += time.monotonic() - started
            summary = recorder.summary()
            self.results['workload'] = {
                'sizes': {'aggregates': a.aggregates, 'hosts': a.hosts,
                          'keys': a.keys, 'lists': a.lists},
                'wall_s': elapsed,
                'operations': {op: summary[op] for op in wl.OPERATIONS
                               if op in summary},
                'floor_near_polls': stats.summarize(work.floor_near_polls),
            }
            say('  workload: %d requests in %.1f s' % (
                sum(len(v) for v in recorder.latencies.values()), elapsed))
            if scaling:
                recorders, record_for = self.recorders_by_size()
                started = time.monotonic()
                work_of_largest = wl.run_scaling(
                    transport, scaling, a.scaling_lists, record_for,
                    sample=a.scaling_sample, seed=a.seed)
                self.results['scaling'] = {
                    size: r.summary() for size, r in recorders.items()}
                say('  scaling run (%s aggregates) in %.1f s' % (
                    ', '.join(map(str, scaling)),
                    time.monotonic() - started))
                if self.side_by_side_spares():
                    self.side_by_side(work_of_largest)
            transport.close()

    def side_by_side(self, largest):
        """The smallest scaling size on a server of its own beside the
        largest (``largest``: the scaling run's Workload, on the main
        server), blocks taking turns (``workload.run_side_by_side``): the
        growth verdicts compare these, measured under the same machine."""
        a = self.args
        smallest = min(self.scaling_sizes())
        started = time.monotonic()
        with srv.api_server(self.path('scaling-reference.conf'),
                            self.reference_port,
                            self.path('scaling-reference.log')).start():
            transport = HTTPTransport(self.reference_port)
            # The same aggregates as the scaling run at that size, untimed.
            reference = wl.run_scaling(transport, [smallest], 1,
                                       lambda size: None, sample=1,
                                       seed=a.seed)
            recorders, record_for = self.recorders_by_size()
            blocks = a.side_by_side_blocks
            per_block = max(1, a.scaling_sample // blocks)
            wl.run_side_by_side(
                {smallest: reference, len(largest.expected): largest},
                self.side_by_side_spares(), blocks, per_block,
                max(10, per_block), record_for)
            transport.close()
        self.results['scaling_side_by_side'] = {
            size: r.summary() for size, r in recorders.items()}
        say('  side by side (%d and %d aggregates) in %.1f s' % (
            smallest, len(largest.expected), time.monotonic() - started))

    def concurrency(self, main_server, main_log, work):
        """show and list by N concurrent clients against the workload's A
        aggregates: ``[api] workers = 1`` is the main server, other counts
        are servers started on the same SQLite file.  All of them run
        side by side (an idle one costs nothing) and the measurement
        windows alternate between them, ``--concurrency-repeats`` times, so
        a burst of other work on the machine hits every configuration
        alike; the median window counts."""
        a = self.args
        ids = [exp.id for exp in work.expected]
        windows = {op: {w: [] for w in a.workers} for op in ('show', 'list')}
        with contextlib.ExitStack() as stack:
            servers = {}
            for workers in a.workers:
                if workers == 1:
                    servers[1] = (main_server, main_log)
                    continue
                port = srv.free_port()
                conf = srv.write_config(
                    self.path('fake-w%d.conf' % workers),
                    self.path('fake.sqlite'), port, workers=workers,
                    threads=a.threads)
                log = self.path('fake-w%d.log' % workers)
                servers[workers] = (stack.enter_context(
                    srv.api_server(conf, port, log).start()), log)
            for _ in range(a.concurrency_repeats):
                for op, count in (('show', a.hosts), ('list', a.aggregates)):
                    for workers, (server, log) in servers.items():
                        offset = os.path.getsize(log)
                        cpu = srv.CPUMeter(server)
                        window = concurrency.measure(
                            server.port, op, ids, count, clients=a.clients,
                            duration=a.concurrency_duration, seed=a.seed)
                        spent = cpu.take()
                        if spent is not None:
                            # Cores the workers got: what the machine,
                            # shared with other work, let them use.
                            window['worker_cores'] = spent / window['wall_s']
                        window['requests_per_worker'] = _requests_per_pid(
                            log, offset)
                        windows[op][workers].append(window)
        results = {}
        for op, by_workers in windows.items():
            results[op] = {}
            for workers, items in by_workers.items():
                items.sort(key=lambda w: w['throughput_ops_s'])
                chosen = dict(items[len(items) // 2])
                chosen['windows_ops_s'] = [w['throughput_ops_s']
                                           for w in items]
                results[op][workers] = chosen
                say('  %s, %d worker(s), %d clients: %s ops/s (median '
                    '%.0f), requests per worker %s' % (
                        op, workers, a.clients,
                        ' '.join('%.0f' % v
                                 for v in chosen['windows_ops_s']),
                        chosen['throughput_ops_s'],
                        '/'.join(map(str, chosen['requests_per_worker']))))
        self.results['concurrency'] = results

    def placement(self):
        if not self.placement_available():
            self.results['placement'] = {
                'skipped': 'no Placement to mirror into: %s'
                           % self._placement_problem}
            say('  SKIPPED: no Placement to mirror into (%s)'
                % self._placement_problem)
            return
        self.results['placement'] = mirroring.bench(
            self.tmp, self.args, self.mirror_ports, say)

    def xenapi(self):
        a = self.args
        if not self.xenapi_available():
            self.results['xenapi'] = {
                'skipped': 'cannot import the xenapi driver/simulator: %s'
                           % self._xenapi_error}
            say('  SKIPPED: the xenapi driver or simulator cannot be '
                'imported (%s)' % self._xenapi_error)
            return
        n_hosts = a.pools * a.pool_hosts
        port = self.xenapi_port
        log = self.path('xenapi.log')
        server = srv.api_server(self.path('xenapi.conf'), port, log)
        from benchmarks import pools
        with server.start():
            admin = self._embedded_admin(server, port)
            names = sorted(admin.hosts(), key=lambda name: int(
                re.sub(r'\D', '', name) or 0))
            if len(names) != n_hosts:
                raise BenchmarkError('expected %d simulated hosts, the '
                                     'simulator has %d' % (n_hosts,
                                                           len(names)))
            transport = HTTPTransport(port)
            for _ in range(5):
                transport.request('GET', wl.BASE).expect(200)
            recorder = stats.Recorder()
            started = time.monotonic()
            pools.PoolWorkload(transport, admin, names, pools=a.pools,
                               per_pool=a.pool_hosts, rounds=a.pool_rounds,
                               seed=a.seed).run(
                self.recorder_callback(recorder))
            transport.close()
        self.results['xenapi'] = {
            'sizes': {'pools': a.pools, 'hosts_per_pool': a.pool_hosts,
                      'rounds': a.pool_rounds},
            'wall_s': time.monotonic() - started,
            'operations': recorder.summary(),
            'xenapi': {op: pools.summarize_calls(recorder.extra[op])
                       for op in recorder.order},
        }
        say('  %d pool requests in %.1f s' % (
            sum(len(v) for v in recorder.latencies.values()),
            time.monotonic() - started))

    def _embedded_admin(self, server, port):
        """The admin endpoint of ``server``'s embedded simulator."""
        from benchmarks import pools
        printed = re.search(r'^simulator control at (http://\S+)',
                            server.log_text(), re.M)
        return pools.SimulatorAdmin(
            printed.group(1) if printed else
            srv.find_control_url(server, {port}))

    def maintenance(self):
        a = self.args
        if not self.xenapi_available():
            self.results['maintenance'] = {
                'skipped': 'cannot import the xenapi driver/simulator: %s'
                           % self._xenapi_error}
            say('  SKIPPED: the xenapi driver or simulator cannot be '
                'imported (%s)' % self._xenapi_error)
            return
        from benchmarks import maintenance
        port = self.maintenance_port
        server = srv.api_server(self.path('maintenance.conf'), port,
                                self.path('maintenance.log'))
        with server.start():
            admin = self._embedded_admin(server, port)
            names = sorted(admin.hosts(), key=lambda name: int(
                re.sub(r'\D', '', name) or 0))
            transport = HTTPTransport(port)
            work = maintenance.MaintenanceWorkload(
                transport, admin, names, a.maintenance_guests,
                rounds=a.maintenance_rounds)
            work.setup()
            recorder = stats.Recorder()
            started = time.monotonic()
            work.run(self.recorder_callback(recorder))
            elapsed = time.monotonic() - started
            transport.close()
        operations = recorder.summary()
        calls = {op: maintenance.summarize(recorder.extra[op])
                 for op in recorder.order}
        self.results['maintenance'] = {
            'sizes': {'guests_per_host': a.maintenance_guests,
                      'hosts_per_pool': maintenance.PER_POOL,
                      'rounds': a.maintenance_rounds,
                      'poll_interval_s': a.maintenance_poll_interval},
            'wall_s': elapsed,
            'operations': operations,
            'xenapi': calls,
            'per_guest': maintenance.per_guest(operations, calls),
        }
        say('  %d maintenance requests in %.1f s' % (
            sum(len(v) for v in recorder.latencies.values()), elapsed))

    def matching(self):
        self.results['host_matching'] = host_matching.bench(
            self.tmp, self.args, say)

    def sql(self):
        from benchmarks import inprocess
        a = self.args
        small = (3, 1, 1)
        sizes = [small] + ([(a.aggregates, a.hosts, a.keys)]
                           if (a.aggregates, a.hosts, a.keys) != small
                           else [])
        self.results['sql'] = inprocess.sql_per_request(self.tmp, sizes,
                                                        seed=a.seed)
        scaling = self.scaling_sizes()
        if scaling:
            self.results['sql_scaling'] = inprocess.sql_per_request_scaling(
                self.tmp, scaling, 2, a.scaling_sample, seed=a.seed)
        if 'xenapi' in a.only and 'skipped' not in self.results.get(
                'xenapi', {}):
            shapes = [(1, 2)] if a.quick else [(1, 2), (2, a.pool_hosts)]
            self.results['sql_pools'] = inprocess.sql_per_pool_request(
                self.tmp, shapes, seed=a.seed)

    def profile(self):
        from benchmarks import inprocess
        a = self.args
        out_dir = os.path.join(os.path.dirname(os.path.abspath(a.output)),
                               'profiles')
        self.results['profile'] = inprocess.profile_workload(
            self.tmp, a.aggregates, a.hosts, a.keys, a.lists, out_dir,
            top=a.profile_top, seed=a.seed)


# -- output ----------------------------------------------------------------

def print_report(results):
    m = results['machine']
    say('')
    say('=' * 78)
    say('nova-aggregates benchmark, %s' % m['date'])
    say('machine: %s, %s CPUs, %s; %s; Python %s, SQLite %s, SQLAlchemy %s,'
        ' gunicorn %s, granian %s' % (
            m.get('cpu'), m['cpus'], m.get('memory'), m['platform'],
            m['python'], m['sqlite'], m['sqlalchemy'], m['gunicorn'],
            m.get('granian')))
    say('server: [api] server = %s' % (
        results['args'].get('server') or 'gunicorn (the default)'))
    say('load average at start %s, at end %s (other work on the machine '
        'makes the figures noisy)' % (m['loadavg_start'],
                                      m.get('loadavg_end')))
    floor = results.get('hello', {}).get('median_ms')
    sql = results.get('sql')
    if 'workload' in results:
        w = results['workload']
        say('')
        say('Workload, fake driver, SQLite, 1 client, HTTP keep-alive: '
            'A=%(aggregates)d aggregates, H=%(hosts)d hosts and M=%(keys)d '
            'keys each, R=%(lists)d lists' % w['sizes'])
        if floor:
            say('hello floor (bare WSGI app, same server setup): median '
                '%.3f ms, p99 %.3f ms, server CPU %s ms/request' % (
                    floor, results['hello']['p99_ms'],
                    '%.3f' % results['hello']['server_cpu_ms']
                    if 'server_cpu_ms' in results['hello'] else '-'))
        say('srv CPU ms: CPU time of the API worker per request (threads '
            'summed; unlike latency, not inflated by waiting for a CPU)')
        if sql:
            say('SQL/req: statements per request at %s (in-process count; '
                '"a-b" = varies); in-proc ms: median through the paste app '
                'without sockets at %s' % (' / '.join(sql), list(sql)[-1]))
        near = (w.get('floor_near_polls') or {}).get('median_ms')
        if near:
            say('hello among the polls (the same floor, %d requests sent '
                'in blocks between the blocks of polls; the polls\' '
                'targets): median %.3f ms' % (
                    w['floor_near_polls']['count'], near))
        say(report.main_table(w['operations'], floor, sql, near))
    if results.get('scaling'):
        say('')
        say('Scaling: aggregates accumulate with 1 host each')
        say(report.scaling_table(
            results['scaling'], floor, results.get('sql_scaling'),
            verdicts=not results.get('scaling_side_by_side')))
    if results.get('scaling_side_by_side'):
        say('')
        say('Scaling side by side: the smallest and largest sizes on two '
            'servers at once, blocks taking turns (add_host of a spare '
            'host, removed again untimed; the polls of the list)')
        say(report.side_by_side_table(results['scaling_side_by_side']))
    if results.get('concurrency'):
        say('')
        say('Throughput, concurrent clients (A=%d aggregates of H=%d hosts)'
            % (results['args']['aggregates'], results['args']['hosts']))
        say('server cores: CPU the API workers got during the window (2 '
            'workers can use up to 2 when the machine has them idle); '
            'ops/core-s: throughput per core they got')
        say(report.concurrency_table(results['concurrency']))
    x = results.get('xenapi')
    if x:
        say('')
        if 'skipped' in x:
            say('xenapi pool run SKIPPED: %s' % x['skipped'])
        else:
            say('Pool aggregates, xenapi driver on the embedded simulator: '
                '%(pools)d pools x %(hosts_per_pool)d hosts, %(rounds)d '
                'rounds (XenAPI calls include logins)' % x['sizes'])
            sqlp = results.get('sql_pools')
            if sqlp:
                say('SQL/req at %s' % ' / '.join(sqlp))
            say(report.pool_table(x['operations'], x['xenapi'], floor, sqlp))
            say('Call patterns:')
            say(report.pattern_lines(x['xenapi']))
    mt = results.get('maintenance')
    if mt:
        say('')
        if 'skipped' in mt:
            say('maintenance run SKIPPED: %s' % mt['skipped'])
        else:
            say('Host maintenance, xenapi driver on the embedded simulator: '
                'pools of %(hosts_per_pool)d hosts with G guests each, '
                '%(rounds)d rounds, [xenapi] poll_interval '
                '%(poll_interval_s)s s, migrations taking no time'
                % mt['sizes'])
            say(report.maintenance_table(mt['operations'], mt['xenapi'],
                                         mt['per_guest']))
            say('XenAPI calls by method, per request (mean):')
            say(report.maintenance_methods(mt['xenapi']))
    pm = results.get('placement')
    if pm:
        say('')
        if 'skipped' in pm:
            say('Placement mirroring run SKIPPED: %s' % pm['skipped'])
        else:
            say('Placement mirroring, fake driver, SQLite, 1 client, HTTP '
                'keep-alive: A=%(aggregates)d aggregates of H=%(hosts)d '
                'hosts, a real Placement 16 on loopback (SQLite) with a '
                'resource provider per host; servers with [placement] '
                'mirror_aggregates off and on, requests in lock-step'
                % pm['sizes'])
            say('+ms: on median - off median; Placement req/op: requests '
                'Placement logged per operation; Placement CPU ms: its '
                'worker\'s CPU time per operation')
            say(report.placement_table(
                pm, (results.get('workload') or {}).get('operations')))
            say('Placement requests: %s' % report.placement_kinds(pm))
    hm = results.get('host_matching')
    if hm:
        say('')
        say('Host matching, fake driver, SQLite, 1 client, HTTP keep-alive: '
            '%(hosts)d hosts in %(aggregates)d aggregates of %(keys)d keys, '
            '%(requests)d requests per layout (disjoint: each host in one '
            'aggregate; overlap: in two, no two hosts alike)' % hm['sizes'])
        say(report.matching_table(hm))
    if results.get('profile'):
        say('')
        say('Profiles (cProfile, in-process, per request; slowest against '
            'target first)')
        say(report.profile_lines(results['profile'],
                                 results.get('workload', {}).get(
                                     'operations', {}),
                                 results['args']['profile_top']))
    say('')
    say('Targets (medians; noisy on a shared machine, see the load average)')
    say(report.targets_table(results))
    say('')
    say('elapsed %.1f s; results in %s' % (results['elapsed_s'],
                                           results['output']))


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    tmpdir = tempfile.mkdtemp(prefix='nova-agg-bench-')
    bench = Bench(args, tmpdir)
    results = bench.results
    results['machine'] = machine()
    results['args'] = vars(args)
    results['output'] = args.output
    parts = (
        ('hello', 'hello floor', bench.hello),
        ('workload', 'fake driver workload (with the concurrent clients '
                     'and the scaling run)', bench.fake),
        ('xenapi', 'xenapi pools', bench.xenapi),
        ('maintenance', 'host maintenance (xenapi)', bench.maintenance),
        ('placement', 'Placement mirroring on and off (real Placement)',
         bench.placement),
        ('matching', 'host matching', bench.matching),
        ('sql', 'SQL statements per request (in-process)', bench.sql),
        ('profile', 'profiles (in-process)', bench.profile),
    )
    steps = [('databases', bench.prepare)] + [
        (title, step) for name, title, step in parts if name in args.only]
    failed = False
    try:
        for title, step in steps:
            say('[%5.1f s] %s' % (time.monotonic() - started, title))
            step()
    except BenchmarkError as exc:
        failed = True
        results['error'] = str(exc)
        print('BENCHMARK FAILED: %s' % exc, file=sys.stderr, flush=True)
    except BaseException as exc:
        failed = True
        results['error'] = '%s: %s' % (type(exc).__name__, exc)
        traceback.print_exc()
        if not isinstance(exc, Exception):
            raise
    finally:
        if failed:
            print('logs, configs and databases kept in %s' % tmpdir,
                  file=sys.stderr, flush=True)
        results['machine']['loadavg_end'] = _loadavg()
        results['elapsed_s'] = time.monotonic() - started
        out_dir = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.output, 'w') as fh:
            json.dump(_jsonable(results), fh, indent=2, sort_keys=True)
        if not failed and not args.keep:
            shutil.rmtree(tmpdir, ignore_errors=True)
    if failed:
        return 1
    print_report(results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
