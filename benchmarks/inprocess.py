"""The paste application in this process: SQL statements per request and
cProfile profiles of the same workload, without sockets.

The server has no statement counter, so the count comes from SQLAlchemy's
``before_cursor_execute`` event on the service's engine while the workload
runs through ``WSGITransport``; it is the same code path as behind
gunicorn (paste pipeline from etc/api-paste.ini, same configuration
options, same request log to a file).
"""

import collections
import cProfile
import os
import pstats
import sys

from benchmarks import pools as pool_bench
from benchmarks import stats
from benchmarks.server import REPO
from benchmarks.transport import WSGITransport
from benchmarks import workload as wl
from tests.support.sql import StatementCounter

PASTE_CONFIG = os.path.join(REPO, 'etc', 'api-paste.ini')

_configured = {'done': False}
_SERVICE_CODE = ('nova_aggregates/aggregates', 'nova_aggregates/db',
                 'nova_aggregates/api/contrib', 'nova_aggregates/api/views',
                 'nova_aggregates/policy', 'nova_aggregates/api/wsgi',
                 'nova_aggregates/api/validation')


def _configure_once(tmpdir):
    """Parse the process-wide CONF like the commands do (logging included,
    to a file so this process's output stays readable)."""
    from nova_aggregates.cmd import common
    if _configured['done']:
        return
    path = os.path.join(tmpdir, 'inprocess.conf')
    with open(path, 'w') as fh:
        fh.write('[DEFAULT]\nlog_file = %s\n' % os.path.join(
            tmpdir, 'inprocess.log'))
    hook = sys.excepthook
    common.parse_args(['--config-file', path])
    # oslo.log sends uncaught exceptions to the log file; keep them here.
    sys.excepthook = hook
    _configured['done'] = True


class InProcessApp:
    """A fresh SQLite database, the configured driver and the paste app."""

    def __init__(self, tmpdir, name, driver='fake', xenapi=None):
        from paste import deploy

        from nova_aggregates import conf as na_conf
        from nova_aggregates.db import api as db_api
        from nova_aggregates.db import migration
        from nova_aggregates import policy
        from nova_aggregates import service

        _configure_once(tmpdir)
        self.conf = na_conf.CONF
        self._service = service
        self.conf.set_override('connection', 'sqlite:///%s' % os.path.join(
            tmpdir, '%s.sqlite' % name), group='database')
        self.conf.set_override('compute_driver', driver)
        for option, value in (xenapi or {}).items():
            self.conf.set_override(option, value, group='xenapi')
        service.reset()
        policy.reset()
        db_api.configure(self.conf)
        migration.db_sync()
        self.app = deploy.loadapp('config:' + PASTE_CONFIG,
                                  name='osapi_compute')
        self.services = service.get_services()
        # Loading the app configures the database again (a new engine):
        # count on the engine the requests really use.
        self.engine = db_api.get_engine()

    def register_hosts(self, hosts):
        """hosts: [(name, zone) or (name, zone, url)]."""
        from nova_aggregates import context
        from nova_aggregates.db import api as db_api
        ctx = context.get_admin_context()
        with db_api.writer.using(ctx):
            for host in hosts:
                db_api.compute_host_create(ctx, *host)

    def transport(self, around=None):
        return WSGITransport(self.app, around=around)

    def counting_transport(self):
        return self.transport(around=lambda: StatementCounter(self.engine))

    def close(self):
        self._service.reset()
        self.conf.clear_override('connection', group='database')
        self.conf.clear_override('compute_driver')


def _spread(values):
    low, high = min(values), max(values)
    return {'min': low, 'max': high, 'mean': sum(values) / len(values)}


def sql_per_request(tmpdir, sizes, seed=1):
    """{size label: {op: {min, max, mean, median_ms}}}: SQL statements per
    request (and the in-process median latency, no sockets, from a second
    run without the counter) of the fake-driver workload at each
    (aggregates, hosts, keys) of ``sizes``."""
    result = {}
    for aggregates, hosts, keys in sizes:
        label = 'A=%d H=%d M=%d' % (aggregates, hosts, keys)
        app = InProcessApp(tmpdir, 'sql-%d-%d-%d' % (aggregates, hosts,
                                                     keys))
        try:
            app.register_hosts(wl.hosts_to_register(aggregates, hosts))
            transport = app.counting_transport()
            counts = collections.defaultdict(list)
            latencies = collections.defaultdict(list)

            def count(op, resp):
                counts[op].append(transport.last_probe.count)
            wl.Workload(transport, aggregates, hosts, keys, lists=10,
                        seed=seed).run(count)

            # Timed again without the counter: a statement listener sends
            # db.prepared's statements through SQLAlchemy's slower path.
            def time_it(op, resp):
                latencies[op].append(resp.elapsed)
            wl.Workload(app.transport(), aggregates, hosts, keys, lists=10,
                        seed=seed).run(time_it)
            result[label] = {op: dict(_spread(v), median_ms=1000.0 *
                                      stats.median(latencies[op]))
                             for op, v in counts.items()}
        finally:
            app.close()
    return result


def sql_per_request_scaling(tmpdir, sizes, lists, sample, seed=1):
    """{size: {op: {min, max, mean, median_ms}}} of the scaling run (one
    host per aggregate), in-process with the statement counter."""
    app = InProcessApp(tmpdir, 'sql-scaling')
    result = {}
    try:
        app.register_hosts(wl.hosts_to_register(0, 1, max(sizes)))
        transport = app.counting_transport()
        counts = {}

        def record_for(size):
            counts[size] = collections.defaultdict(list)

            def record(op, resp):
                counts[size][op].append((transport.last_probe.count,
                                         resp.elapsed))
            return record
        wl.run_scaling(transport, sizes, lists, record_for, sample=sample,
                       seed=seed)
        for size, by_op in counts.items():
            result[size] = {
                op: dict(_spread([c for c, _ in v]), median_ms=1000.0 *
                         stats.median([e for _, e in v]))
                for op, v in by_op.items()}
    finally:
        app.close()
    return result


def sql_per_pool_request(tmpdir, shapes, seed=1):
    """The same for pool operations (xenapi driver, an in-process
    simulator fleet), for each (pools, hosts per pool) of ``shapes``."""
    from nova_aggregates.xenserver_sim import Fleet

    result = {}
    for n_pools, per_pool in shapes:
        label = 'P=%d K=%d' % (n_pools, per_pool)
        fleet = Fleet(hosts=n_pools * per_pool, username='root',
                      password='secret')
        fleet.start()
        app = None
        try:
            app = InProcessApp(tmpdir, 'sqlpool-%d-%d' % (n_pools, per_pool),
                               driver='xenapi',
                               xenapi={'connection_password': 'secret'})
            app.register_hosts([(h.name, 'az%d' % (n // 2 + 1), h.url)
                                for n, h in enumerate(fleet.hosts)])
            transport = app.counting_transport()
            counts = collections.defaultdict(list)

            def record(op, resp, **extra):
                counts[op].append(transport.last_probe.count)
            work = pool_bench.PoolWorkload(
                transport, pool_bench.SimulatorAdmin(fleet.control_url),
                [h.name for h in fleet.hosts], pools=n_pools,
                per_pool=per_pool, rounds=3, seed=seed)
            work.run(record)
            result[label] = {op: _spread(v) for op, v in counts.items()}
        finally:
            if app is not None:
                app.close()
            fleet.stop()
    return result


class _Profiled:
    def __init__(self):
        self.profile = cProfile.Profile()

    def __enter__(self):
        self.profile.enable()
        return self

    def __exit__(self, *exc):
        self.profile.disable()


def profile_workload(tmpdir, aggregates, hosts, keys, lists, out_dir,
                     top=15, seed=1):
    """cProfile each operation of the workload (in-process, default sizes);
    writes ``<op>.prof`` files and returns the top functions per op."""
    os.makedirs(out_dir, exist_ok=True)
    app = InProcessApp(tmpdir, 'profile')
    try:
        app.register_hosts(wl.hosts_to_register(aggregates, hosts))
        transport = app.transport(around=_Profiled)
        profiles = collections.defaultdict(list)
        latencies = collections.defaultdict(list)

        def record(op, resp):
            profiles[op].append(transport.last_probe.profile)
            latencies[op].append(resp.elapsed)
        wl.Workload(transport, aggregates, hosts, keys, lists,
                    seed=seed).run(record)
    finally:
        app.close()
    report = {}
    for op, items in profiles.items():
        merged = pstats.Stats(items[0])
        for item in items[1:]:
            merged.add(item)
        path = os.path.join(out_dir, '%s.prof' % op)
        merged.dump_stats(path)
        report[op] = {
            'requests': len(items),
            'profiled_ms_per_request': 1000.0 * sum(latencies[op]) /
            len(latencies[op]),
            'file': path,
            'top_tottime': _top(merged, 'tottime', len(items), top),
            # Below the WSGI pipeline: where the service's own code goes.
            'top_cumulative': _top(merged, 'cumulative', len(items), top,
                                   only=_SERVICE_CODE),
            'by_package': _by_package(merged, len(items)),
        }
    return report


def _short(filename):
    for marker in ('site-packages/', 'lib/python3.'):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == 'lib/python3.':
                filename = 'stdlib/' + filename.split('/', 1)[-1]
            break
    if filename.startswith(REPO):
        filename = filename[len(REPO) + 1:]
    return filename


def _package(filename):
    """'sqlalchemy', 'webob', 'nova_aggregates.db', 'stdlib json', ..."""
    short = _short(filename)
    if short == '~':
        return 'C builtins (sqlite3, str, dict, ...)'
    parts = short.split('/')
    if parts[0] == 'nova_aggregates' and len(parts) > 2:
        return 'nova_aggregates.' + parts[1]
    if parts[0] == 'stdlib':
        return 'stdlib ' + parts[1].split('.')[0] if len(parts) > 1 \
            else 'stdlib'
    return parts[0].split('.')[0]


def _by_package(stats, requests):
    """Own time per request summed by package, largest first."""
    totals = collections.Counter()
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in \
            stats.stats.items():
        totals[_package(filename)] += tt
    return [{'package': name, 'ms_per_request': 1000.0 * value / requests}
            for name, value in totals.most_common()]


def _top(stats, key, requests, top, only=None):
    """[(ms per request, calls per request, 'file:line(function)')]"""
    stats.sort_stats(key)
    rows = []
    for func in stats.fcn_list:
        if len(rows) >= top:
            break
        cc, nc, tt, ct, _callers = stats.stats[func]
        filename, line, name = func
        short = _short(filename)
        if only is not None and not short.startswith(only):
            continue
        value = tt if key == 'tottime' else ct
        rows.append({'ms_per_request': 1000.0 * value / requests,
                     'calls_per_request': nc / requests,
                     'function': '%s:%d(%s)' % (short, line, name)})
    return rows
