"""Throughput with N concurrent clients: one process per client (so the
clients are not serialized by one GIL), each with its own keep-alive
connection, all started together, for a fixed duration."""

import queue as queue_lib
import random
import time

from benchmarks import stats
from benchmarks.transport import BenchmarkError
from benchmarks.transport import HTTPTransport
from benchmarks import workload as wl
from tests.support import concurrency


#: Every list answer is checked; one in this many is also parsed in full
#: (a 200-aggregate list is ~100 KB of JSON: parsing each one would make
#: the clients, not the server, use the CPU this run measures).
FULL_CHECK_EVERY = 8


def _check_list(resp, expected_count, number):
    if number % FULL_CHECK_EVERY == 0:
        items = wl.unwrap(resp, 'aggregates')
        count = len(items)
    else:
        body = resp.body
        if not (body.startswith(b'{"aggregates": [') and
                body.endswith(b']}')):
            raise BenchmarkError('list: not an aggregate list: %r'
                                 % body[:200])
        count = body.count(b'"deleted": false') + \
            body.count(b'"deleted":false')
    if count != expected_count:
        raise BenchmarkError('list: %d aggregates, expected %d'
                             % (count, expected_count))


def _client(port, op, ids, expected_count, seed, duration, ready, go,
            results):
    try:
        transport = HTTPTransport(port)
        rng = random.Random(seed)
        # One untimed request: connection and server thread are warm.
        transport.request('GET', wl.BASE).expect(200)
        ready.put(True)
        go.wait()
        cpu_start = time.process_time()
        latencies = []
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            if op == 'show':
                agg_id = rng.choice(ids)
                resp = transport.request('GET', '%s/%d' % (wl.BASE, agg_id))
                resp.expect(200)
                body = wl.unwrap(resp)
                if body.get('id') != agg_id or len(body.get('hosts')) != \
                        expected_count:
                    raise BenchmarkError('show %d: wrong aggregate %r' % (
                        agg_id, str(body)[:200]))
            else:
                resp = transport.request('GET', wl.BASE).expect(200)
                _check_list(resp, expected_count, len(latencies))
            latencies.append(resp.elapsed)
        cpu = time.process_time() - cpu_start
        transport.close()
        results.put(('ok', (latencies, cpu)))
    except Exception as exc:  # noqa: B902 - reported by the parent
        ready.put(False)
        results.put(('error', '%s: %s' % (type(exc).__name__, exc)))


def measure(port, op, ids, expected_count, clients=8, duration=5.0,
            seed=1):
    """Aggregate throughput of ``clients`` clients doing ``op`` ('show' of
    random ids whose aggregates hold ``expected_count`` hosts, or 'list' of
    ``expected_count`` aggregates) for ``duration`` seconds."""
    try:
        items, wall = concurrency.processes_at_once(_client, [
            (port, op, ids, expected_count, seed * 1000 + n, duration)
            for n in range(clients)], result_timeout=duration + 120)
    except queue_lib.Empty:
        raise BenchmarkError('concurrent clients did not report in time')
    latencies = []
    errors = []
    client_cpu = 0.0
    for kind, value in items:
        if kind == 'ok':
            latencies.extend(value[0])
            client_cpu += value[1]
        else:
            errors.append(value)
    if errors:
        raise BenchmarkError('concurrent %s: %s' % (op, errors[0]))
    summary = stats.summarize(latencies)
    summary.update({
        'clients': clients,
        'duration_s': duration,
        'wall_s': wall,
        'throughput_ops_s': len(latencies) / duration,
        # The clients share the machine with the server: what they took.
        'client_cores': client_cpu / duration,
    })
    return summary
