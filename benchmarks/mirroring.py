"""Placement mirroring (api-contract section 16): add_host and remove_host
with ``[placement] mirror_aggregates = true`` against a real Placement,
paired with the same operations on a server that does not mirror.

A Placement 16 from the Nova venv (``.services/nova``; ``tests/support/
placement.py``'s ``PlacementFixture``: SQLite, noauth2, gunicorn on
loopback) gets a resource provider for each of the A x H hosts.  Two
servers of the main workload's kind (fake driver, SQLite, the same hosts
registered in the same zones) run side by side: *off* (no ``[placement]``
section) and *on* (mirroring, keystoneauth's ``admin_token`` plugin at
Placement's endpoint).  After a warm-up on each, the same requests go to
both in lock-step, the order alternating (off first, then on first), so
that a burst of other work on the machine hits both alike:

    create      A   (neither calls Placement)
    add_host A x H  (on: GET /resource_providers?name=, then after the
                     commit GET and PUT /resource_providers/{uuid}/aggregates)
    remove_host A x H  (the same three)
    delete      A   (on: GET /resource_providers?member_of=)

Every answer is checked as the workload checks it.  Placement is read over
its own API after the adds (each provider carries exactly the uuid of its
aggregate, each aggregate's ``member_of`` is exactly its hosts) and at the
end (no provider carries anything); the requests Placement logged during
each timed phase are counted by kind, and the mirroring server must have
logged no mirror warning (no provider, a step left to retry).

Without the Nova venv the part is skipped (it fails instead when
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nova``, as in CI).
"""

import collections
import contextlib
import os
import re
import shutil
import time

import fixtures

from benchmarks import server as srv
from benchmarks import stats
from benchmarks.transport import BenchmarkError
from benchmarks.transport import HTTPTransport
from benchmarks import workload as wl

OPERATIONS = ('create', 'add_host', 'remove_host', 'delete')
MODES = ('off', 'on')
#: The microversion at which aggregate bodies carry their uuid.
UUID_VERSION = {'OpenStack-API-Version': 'compute 2.41'}
#: What the mirroring server asks Placement (``_placement_requests``).
LOOKUP = 'GET /resource_providers?name='
READ = 'GET /resource_providers/{uuid}/aggregates'
WRITE = 'PUT /resource_providers/{uuid}/aggregates'

_UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-'
                   r'[0-9a-f]{12}')
_REQUEST = re.compile(r'placement\.requestlog \[[^]]*\] \S+ "(\w+) ([^"]+)" '
                      r'status: (\d+)')
_MIRROR_WARNING = re.compile(
    r'^.* WARNING nova_aggregates\.aggregates\.placement_mirror .*$', re.M)


QUICK = {'placement_aggregates': 10}


def add_arguments(parser):
    parser.add_argument('--placement-aggregates', type=int, default=50,
                        help='aggregates of the Placement mirroring run, '
                             'each of -H hosts')
    parser.add_argument('--no-placement', action='store_true',
                        help='skip the Placement mirroring part')


def sizes(args):
    return args.placement_aggregates, args.hosts


def unavailable():
    """Why no Placement can be run here (the Nova venv is missing), or
    None; raises BenchmarkError when the environment requires it."""
    from tests.support import nova
    from tests.support import shared
    problem = nova.venv_problem()
    if problem and nova.REQUIRED_NAME in shared.required_backends():
        raise BenchmarkError('%s, and %s requires %s' % (
            problem, shared.REQUIRE_ENV, nova.REQUIRED_NAME))
    return problem


def _path(tmp, mode, ext):
    return os.path.join(tmp, 'mirror-%s.%s' % (mode, ext))


def write_configs(tmp, args, ports, placement_options=None):
    """The configuration files of the two servers; the mirroring one gets
    ``[placement]`` once ``placement_options`` are known (the database
    set-up does not need them)."""
    for mode in MODES:
        extra = None
        if mode == 'on' and placement_options:
            extra = {'placement': dict(placement_options,
                                       mirror_aggregates='true')}
        srv.write_config(_path(tmp, mode, 'conf'), _path(tmp, mode, 'sqlite'),
                         ports[mode], threads=args.threads, extra=extra)


def prepare_jobs(tmp, args):
    """Ports of the two servers and their ``prepare_databases`` jobs."""
    ports = {mode: srv.free_port() for mode in MODES}
    write_configs(tmp, args, ports)
    hosts = wl.hosts_to_register(*sizes(args))
    return ports, [(_path(tmp, mode, 'conf'), hosts, _path(tmp, mode, 'log'))
                   for mode in MODES]


# -- Placement, read over its own API ------------------------------------

def _placement_requests(text):
    """``{"METHOD /path": count}`` of Placement's request log lines, uuids
    and query values generalized."""
    counts = collections.Counter()
    for method, path, status in _REQUEST.findall(text):
        path = _UUID.sub('{uuid}', path)
        path = re.sub(r'=[^&]*', '=', path)
        counts['%s %s%s' % (method, path,
                            '' if status.startswith('2') else
                            ' (%s)' % status)] += 1
    return counts


def _settled_output(placement, previous=None, wait=2.0):
    """Placement's log once it stops growing (its request log line may
    follow the answer by a moment)."""
    deadline = time.monotonic() + wait
    text = placement.output()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = placement.output()
        if len(again) == len(text):
            break
        text = again
    return text


def check_placement(placement, providers, members):
    """Placement shows exactly ``members`` (``{aggregate uuid: set of host
    names}``): each provider's aggregates, and each aggregate's providers
    (``member_of``).  The number of requests made."""
    wanted = collections.defaultdict(set)
    for uuid, hosts in members.items():
        for host in hosts:
            wanted[host].add(uuid)
    requests = 0
    for host, rp_uuid in sorted(providers.items()):
        status, body = placement.request(
            'GET', '/resource_providers/%s/aggregates' % rp_uuid)
        requests += 1
        if status != 200:
            raise BenchmarkError('Placement: GET aggregates of %s: %s %s'
                                 % (host, status, body))
        if set(body['aggregates']) != wanted[host]:
            raise BenchmarkError(
                'Placement: provider %s has aggregates %s, expected %s' % (
                    host, sorted(body['aggregates']), sorted(wanted[host])))
    for uuid, hosts in sorted(members.items()):
        shown = placement.providers_in(uuid)
        requests += 1
        if shown != set(hosts):
            raise BenchmarkError(
                'Placement: member_of=%s lists %s, expected %s' % (
                    uuid, sorted(shown), sorted(hosts)))
    status, body = placement.request('GET', '/resource_providers')
    requests += 1
    if status != 200 or len(body['resource_providers']) != len(providers):
        raise BenchmarkError('Placement: %s resource providers, expected %d'
                             % (len(body['resource_providers'])
                                if status == 200 else status,
                                len(providers)))
    return requests


def _uuids(transport, expected):
    """``{aggregate id: uuid}`` from one list at 2.41, every aggregate of
    it checked against the model (the uuid aside)."""
    resp = transport.request('GET', wl.BASE, headers=UUID_VERSION)
    resp.expect(200)
    by_id = {exp.id: exp for exp in expected}
    uuids = {}
    for body in wl.unwrap(resp, 'aggregates'):
        body = dict(body)
        uuid = body.pop('uuid', None)
        exp = by_id.get(body.get('id'))
        if exp is None or not _UUID.fullmatch(str(uuid)):
            raise BenchmarkError('GET %s (2.41): unexpected aggregate %r' % (
                wl.BASE, str(body)[:200]))
        wl.check_aggregate(body, exp, 'GET %s (2.41, aggregate %s)' % (
            wl.BASE, exp.id))
        uuids[exp.id] = uuid
    if len(uuids) != len(by_id):
        raise BenchmarkError('GET %s (2.41): %d aggregates, expected %d' % (
            wl.BASE, len(uuids), len(by_id)))
    return uuids


# -- the paired run ------------------------------------------------------

class Side:
    """One server of the pair: its transport, the workload's model of what
    it holds, latencies and CPU time per request (its worker's, and with
    mirroring Placement's)."""

    def __init__(self, mode, server, port, args, placement=None):
        self.mode = mode
        self.server = server
        self.transport = HTTPTransport(port)
        self.work = wl.Workload(self.transport, 0, args.hosts, 0, 0,
                                seed=args.seed, prefix='mirror')
        self.recorder = stats.Recorder()
        self.cpu = srv.CPUMeter(server)
        self.placement_cpu = srv.CPUMeter(placement.server) \
            if placement is not None else None

    def record(self, op, resp):
        extra = {}
        for key, meter in (('server_cpu_s', self.cpu),
                           ('placement_cpu_s', self.placement_cpu)):
            if meter is not None and meter.available:
                extra[key] = meter.take()
        self.recorder.add(op, resp.elapsed, **extra)

    def reset_meters(self):
        for meter in (self.cpu, self.placement_cpu):
            if meter is not None:
                meter.reset()

    def summary(self):
        result = self.recorder.summary()
        for op, figures in result.items():
            figures['p90_ms'] = 1000.0 * stats.percentile(
                self.recorder.latencies[op], 0.9)
            spent = [e['placement_cpu_s'] for e in self.recorder.extra[op]
                     if e.get('placement_cpu_s') is not None]
            if spent:
                figures['placement_cpu_ms'] = 1000.0 * sum(spent) / \
                    len(spent)
        return {op: result[op] for op in OPERATIONS if op in result}


def _lockstep(sides, index):
    """Both sides, off first on even steps and on first on odd ones."""
    return sides if index % 2 == 0 else sides[::-1]


def paired_run(sides, placement, providers, aggregates, hosts):
    """The timed requests of the module docstring; ``{op: Placement
    requests during its phase}``, the reads that checked Placement and
    the number of memberships it showed."""
    on = sides[1]
    requests = {}
    step = 0

    def phase(op, items):
        nonlocal step
        before = len(_settled_output(placement))
        for item in items:
            for side in _lockstep(sides, step):
                item(side)
            step += 1
        requests[op] = _placement_requests(
            _settled_output(placement)[before:])

    def create(index):
        return lambda side: side.work.expected.append(
            side.work.create(index, side.record))

    def action(index, name, host):
        return lambda side: side.work.action(
            side.work.expected[index], name, {'host': host}, side.record)

    def delete(index):
        return lambda side: side.work.delete(side.work.expected[index],
                                             side.record)

    for side in sides:
        side.reset_meters()
    phase('create', [create(i) for i in range(aggregates)])
    phase('add_host', [action(i, 'add_host', wl.host_name(i, slot))
                       for i in range(aggregates) for slot in range(hosts)])
    for side in sides:
        side.work.list(side.work.expected)
    uuids = _uuids(on.transport, on.work.expected)
    members = {uuids[exp.id]: set(exp.hosts) for exp in on.work.expected}
    reads = check_placement(placement, providers, members)
    for side in sides:
        side.reset_meters()
    phase('remove_host', [
        action(i, 'remove_host', host) for i in range(aggregates)
        for host in reversed(on.work.expected[i].hosts)])
    phase('delete', [delete(i) for i in range(aggregates)])
    for side in sides:
        side.work.expected = []
        side.work.list([])
    reads += check_placement(placement, providers, {})
    return requests, reads, len(members)


def _timed(side, op):
    return len(side.recorder.latencies.get(op, ()))


def _request_figures(counts, operations):
    """What Placement was asked during a phase of ``operations`` requests.
    ``retrier_lookups``: look-ups with no write after them, in pairs (the
    provider, its aggregates): each API worker's retrier may take a step
    the request itself is running, finds it done and stops; None when the
    requests do not add up to that."""
    total = sum(counts.values())
    figures = {'total': total, 'per_op': total / max(1, operations),
               'kinds': dict(counts)}
    if counts.get(WRITE):
        extra = counts[LOOKUP] - counts[WRITE]
        matched = counts[WRITE] == operations and extra >= 0 and \
            counts[READ] - counts[WRITE] == extra and \
            total == 3 * operations + 2 * extra
        figures['retrier_lookups'] = extra if matched else None
        figures['request_path_per_op'] = 3 if matched else None
    return figures


def bench(tmp, args, ports, say=print):
    """The whole part (the databases prepared by ``prepare_jobs``)."""
    from tests.support import placement as placement_service
    aggregates, hosts = sizes(args)
    started = time.monotonic()
    fixture = placement_service.PlacementFixture()
    try:
        fixture.setUp()
    except fixtures.MultipleExceptions as exc:
        # The fixture has cleaned up; the first error says why.
        raise BenchmarkError('Placement did not start: %s' % exc.args[0][1])
    try:
        startup_s = fixture.startup_seconds
        began = time.monotonic()
        providers = {name: fixture.create_provider(name) for name, _ in
                     wl.hosts_to_register(aggregates, hosts)}
        providers_s = time.monotonic() - began
        write_configs(tmp, args, ports, fixture.placement_conf_options())
        with contextlib.ExitStack() as stack:
            servers = {}
            for mode in MODES:
                servers[mode] = stack.enter_context(srv.api_server(
                    _path(tmp, mode, 'conf'), ports[mode],
                    _path(tmp, mode, 'log')).start())
            sides = [Side(mode, servers[mode], ports[mode], args,
                          fixture if mode == 'on' else None)
                     for mode in MODES]
            for side in sides:
                # Every code path once, mirroring included.
                wl.Workload(side.transport, 3, 1, 1, 2, seed=args.seed,
                            prefix='warmup').run()
            began = time.monotonic()
            requests, reads, memberships = paired_run(
                sides, fixture, providers, aggregates, hosts)
            wall_s = time.monotonic() - began
            for side in sides:
                side.transport.close()
        warnings = _MIRROR_WARNING.findall(servers['on'].log_text())
        if warnings:
            raise BenchmarkError('the mirroring server logged %d mirror '
                                 'warnings, first: %s' % (len(warnings),
                                                          warnings[0]))
    finally:
        # Placement's files go with the fixture: its log stays with ours.
        if fixture.server is not None:
            shutil.copyfile(fixture.server.log_path,
                            os.path.join(tmp, 'placement.log'))
        fixture.cleanUp()
    results = {
        'sizes': {'aggregates': aggregates, 'hosts': hosts},
        'placement': {'startup_s': startup_s, 'providers': len(providers),
                      'providers_s': providers_s},
        'wall_s': wall_s,
        'part_s': time.monotonic() - started,
        'off': sides[0].summary(),
        'on': sides[1].summary(),
        'placement_requests': {
            op: _request_figures(counts, _timed(sides[1], op))
            for op, counts in requests.items()},
        'verified': {'memberships': memberships,
                     'placement_reads': reads},
    }
    for op in OPERATIONS:
        off, on = results['off'].get(op), results['on'].get(op)
        if off and on:
            say('  %-11s off median %.2f ms, on median %.2f ms (%+.2f), '
                '%.2f Placement requests each' % (
                    op, off['median_ms'], on['median_ms'],
                    on['median_ms'] - off['median_ms'],
                    results['placement_requests'][op]['per_op']))
    say('  Placement (startup %.1f s, %d providers in %.1f s) showed the %d '
        'memberships exactly, then none (%d reads); part %.1f s' % (
            startup_s, len(providers), providers_s, memberships, reads,
            results['part_s']))
    return results
