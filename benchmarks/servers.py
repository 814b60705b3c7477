"""``python -m benchmarks.servers``: the same application under each WSGI
server that is installed (gunicorn, which ``nova-aggregates-api`` runs;
uWSGI from ``pyuwsgi``; granian), one worker process each, one client
over HTTP keep-alive: the hello floor (``benchmarks.hello:app``), then
show, set_metadata and delete of our ``nova_aggregates.wsgi:application``
(fake driver, SQLite).

A measurement to choose a server by (doc/performance.md, "WSGI servers
compared"); the servers run with plain settings of their own, not
``nova-aggregates-api``'s (no request log of ours, default timeouts).
pyuwsgi is not a requirement: ``pip install pyuwsgi`` into the venv
first; a missing server is skipped.

The last rows are ``nova-aggregates-api`` itself under each ``[api]
server``, one worker of 8 threads: the hello floor through the same code
(``benchmarks.hello``), then the API with our whole setup (request log,
read deadlines and so on).
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import server as srv

BIN = os.path.dirname(os.path.abspath(sys.executable))
HEADERS = {'X-Auth-Token': 'admin:admin', 'Content-Type': 'application/json'}
THREADS = 8


#: ``[api] server`` values measured through nova-aggregates-api's own code.
OURS = ('gunicorn', 'granian')


def ours(server, app, port, tmp, database):
    """``nova-aggregates-api`` (``app`` ``nova_aggregates.wsgi:application``)
    or the hello floor through its code, under ``[api] server``."""
    config = srv.write_config(
        os.path.join(tmp, '%s-%d.conf' % (server, port)), database, port,
        threads=THREADS, extra={'api': {'server': server}})
    if app == 'benchmarks.hello:app':
        return [sys.executable, '-m', 'benchmarks.hello', '--config-file',
                config]
    return [os.path.join(BIN, 'nova-aggregates-api'), '--config-file',
            config]


def commands(app, port, tmp=None, database=None):
    """Each server's command line serving ``app`` on ``port``."""
    bind = '127.0.0.1:%d' % port
    found = {
        'gunicorn (gthread)': [
            os.path.join(BIN, 'gunicorn'), '-b', bind, '-w', '1', '-k',
            'gthread', '--threads', str(THREADS), '--keep-alive', '75', app],
        'uWSGI (pyuwsgi)': [
            os.path.join(BIN, 'uwsgi'), '--http11-socket', bind, '--master',
            '--processes', '1', '--threads', str(THREADS), '--module', app,
            '--disable-logging', '--die-on-term'],
        'granian': [
            os.path.join(BIN, 'granian'), '--interface', 'wsgi', '--host',
            '127.0.0.1', '--port', str(port), '--workers', '1',
            '--blocking-threads', str(THREADS), app],
    }
    for server in OURS:
        found['nova-aggregates-api %s' % server] = ours(
            server, app, port, tmp, database) if tmp else [sys.executable]
    return found


class Served:
    """One server process, killed (its group) on exit."""

    def __init__(self, argv, port, env):
        self.port = port
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def __enter__(self):
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                                  timeout=2)
                conn.request('GET', '/')
                conn.getresponse().read()
                return http.client.HTTPConnection('127.0.0.1', self.port,
                                                  timeout=10)
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError('no answer on port %d' % self.port)
                time.sleep(0.05)

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def call(conn, method, path, body=None, expected=200):
    data = json.dumps(body).encode() if body is not None else None
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=HEADERS)
    response = conn.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    if response.status != expected:
        raise RuntimeError('%s %s: %d %s' % (method, path, response.status,
                                             payload[:200]))
    return elapsed, payload


def median_ms(samples):
    return round(statistics.median(samples) * 1000, 3)


def measure_ours(conn, count):
    """Medians of show, set_metadata and delete over ``count`` aggregates
    of 5 hosts (made untimed)."""
    ids = []
    for number in range(count):
        _, body = call(conn, 'POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'srv-%d-%f' % (number, time.time())}})
        agg_id = json.loads(body)['aggregate']['id']
        for host in range(5):
            call(conn, 'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
                 {'add_host': {'host': 'host-%d' % host}})
        ids.append(agg_id)
    times = {'show': [], 'set_metadata': [], 'delete': []}
    for agg_id in ids:
        path = '/v2.1/os-aggregates/%d' % agg_id
        times['show'].append(call(conn, 'GET', path)[0])
        times['set_metadata'].append(call(
            conn, 'POST', path + '/action',
            {'set_metadata': {'metadata': {'k': 'v'}}})[0])
    for agg_id in ids:
        path = '/v2.1/os-aggregates/%d' % agg_id
        for host in range(5):
            call(conn, 'POST', path + '/action',
                 {'remove_host': {'host': 'host-%d' % host}})
        times['delete'].append(call(conn, 'DELETE', path)[0])
    return {op: median_ms(samples) for op, samples in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-n', type=int, default=200,
                        help='aggregates timed (and hello requests x10)')
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix='servers-bench-')
    try:
        database = os.path.join(tmp, 'servers.sqlite')
        config = srv.write_config(os.path.join(tmp, 'servers.conf'),
                                  database, srv.free_port())
        srv.prepare_databases([(config, [('host-%d' % i, None)
                                         for i in range(5)],
                                os.path.join(tmp, 'setup.log'))])
        env = dict(os.environ, NOVA_AGGREGATES_CONFIG_FILES=config,
                   PYTHONPATH=srv.REPO)
        port = srv.free_port()
        print('server                        hello ms   show ms   '
              'set_metadata ms  delete ms')
        for name in commands('x', port):
            if not os.access(commands('x', port)[name][0], os.X_OK):
                print('%-29s not installed' % name)
                continue
            with Served(commands('benchmarks.hello:app', port, tmp,
                                 database)[name], port, env) as conn:
                hello = median_ms([call(conn, 'GET', '/')[0]
                                   for _ in range(args.n * 10)])
            port = srv.free_port()
            with Served(commands('nova_aggregates.wsgi:application', port,
                                 tmp, database)[name], port, env) as conn:
                measured = measure_ours(conn, args.n)
            port = srv.free_port()
            print('%-29s %8.3f %9.3f %17.3f %10.3f' % (
                name, hello, measured['show'], measured['set_metadata'],
                measured['delete']), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
