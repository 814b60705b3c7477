"""Host matching at scale (api-contract section 15): ``POST
os-host-matching`` against a server holding H hosts in A aggregates of M
metadata keys each, every answer checked.

The layout, seeded: hosts ``mh0000``...; aggregates ``hm000``... of H / A
hosts each (``--matching-overlap``: twice as many members, every host in
two aggregates, so that no two hosts share their aggregates and nothing
can be worked out once for several).  Every other aggregate (the first of
each pair with the overlap) has an availability zone; each has M keys
(the zone counted): the ones Nova's filters read (``gpu``, ``ram``,
``cpu``, ``os_distro``, ``max_instances_per_host``, on some
``instance_type``, ``filter_tenant_id``, ``trait:HW_CPU_X86_SGX``) and
padding.  It is created through the API (create, one set_metadata,
add_host per member), untimed.

Timed: R matching requests, one client over HTTP keep-alive, the filters
of a scheduler that reads aggregates (``ComputeFilter`` and the five
aggregate filters, ``isolate_aggregates`` on), each request drawn from a
seeded table (flavor, extra specs with Nova's operators, image
properties, project, zone).  Each answer is compared, outside the timed
section, with tests/support/host_matching_oracle.py's evaluation of the
same rules on the benchmark's model of the layout: every host in the
right list, with the right zone, aggregates and refusing filter.

In-process (no sockets), the SQL statements of one matching request are
counted at a small and at the given size: the same number.

``python -m benchmarks.host_matching`` runs this part alone (``--quick``:
a small layout); ``make bench`` runs it with the rest.
"""

import argparse
import collections
import os
import random
import sys
import tempfile
import time

from benchmarks import stats
from benchmarks.transport import BenchmarkError

ENABLED_FILTERS = ['ComputeFilter', 'AggregateInstanceExtraSpecsFilter',
                   'AggregateImagePropertiesIsolation',
                   'AggregateMultiTenancyIsolation',
                   'AggregateTypeAffinityFilter',
                   'AggregateNumInstancesFilter']
SERVER_OPTIONS = {
    'filter_scheduler': {'enabled_filters': ','.join(ENABLED_FILTERS)},
    'scheduler': {'enable_isolated_aggregate_filtering': 'true'},
}
ZONES = ('az1', 'az2', 'az3', 'az4')
OP = 'host_matching'

_SEMANTIC = {
    'gpu': ['true', 'false', 'true,false'],
    'ram': ['2048', '4096', '8192', '16384, 32768'],
    'cpu': ['avx2,sse4', 'avx avx2', 'sse4'],
    'os_distro': ['ubuntu', 'centos', 'ubuntu, centos'],
    'max_instances_per_host': ['10', '50', '100'],
}
_SOMETIMES = (
    (0.2, 'instance_type', ['m1.large', 'm1.small, m1.large']),
    (0.1, 'filter_tenant_id', ['p1', 'p1, p2']),
    (0.05, 'trait:HW_CPU_X86_SGX', ['required']),
)
_EXTRA_SPECS = {
    'gpu': ['true', 'false'],
    'aggregate_instance_extra_specs:ram': ['>= 4096', '= 8192', 's== 2048',
                                           '<= 4096'],
    'cpu': ['<in> avx2', '<all-in> avx avx2', '<or> sse4 <or> avx2'],
    'hw:cpu_policy': ['dedicated'],
    'trait:HW_CPU_X86_SGX': ['required'],
}
_IMAGE = {
    'os_distro': ['ubuntu', 'centos', 'windows'],
    'hw_cpu_cores': ['4', '8'],
}


def host_name(index):
    return 'mh%04d' % index


class Layout:
    """The benchmark's model of what the server holds: hosts with their
    registered zones, aggregates with members and metadata."""

    def __init__(self, hosts=1000, aggregates=200, keys=10, overlap=False,
                 seed=1):
        if hosts < aggregates or keys < 6:
            raise ValueError('need at least as many hosts as aggregates and '
                             'at least 6 keys')
        rng = random.Random(seed)
        self.hosts = [{'name': host_name(i), 'zone': ZONES[i % len(ZONES)],
                       'status': 'enabled', 'maintenance': 'off_maintenance',
                       'guests': 0} for i in range(hosts)]
        self.aggregates = []
        per = hosts // aggregates
        for number in range(aggregates):
            if overlap:
                # Two groups: racks of 2 * per consecutive hosts, and
                # stripes that take one host in every (aggregates / 2).
                half = aggregates // 2
                if number < half:
                    members = range(number * 2 * per, (number + 1) * 2 * per)
                else:
                    members = range(number - half, hosts, half)
                zoned = number < half
            else:
                members = range(number * per, (number + 1) * per)
                zoned = number % 2 == 0
            metadata = {}
            if zoned:
                metadata['availability_zone'] = ZONES[number % len(ZONES)]
            for key, values in _SEMANTIC.items():
                metadata[key] = rng.choice(values)
            for chance, key, values in _SOMETIMES:
                if rng.random() < chance:
                    metadata[key] = rng.choice(values)
            pad = 0
            while len(metadata) < keys:
                metadata['pad%d' % pad] = 'v%d' % rng.randint(0, 9)
                pad += 1
            while len(metadata) > keys:
                metadata.pop(sorted(k for k in metadata
                                    if k != 'availability_zone')[-1])
            self.aggregates.append({
                'id': None, 'name': 'hm%03d' % number,
                'hosts': [host_name(i) for i in members],
                'metadata': metadata})

    def registered(self):
        return [(host['name'], host['zone']) for host in self.hosts]

    def as_oracle_layout(self):
        return {'hosts': self.hosts, 'aggregates': self.aggregates}


def requests(count, seed=1):
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        request = {'flavor': {
            'name': rng.choice(['m1.small', 'm1.large']),
            'extra_specs': {key: rng.choice(values) for key, values in
                            rng.sample(sorted(_EXTRA_SPECS.items()),
                                       rng.randint(0, 3))}}}
        image = {key: rng.choice(values) for key, values in
                 rng.sample(sorted(_IMAGE.items()), rng.randint(0, 2))}
        if image:
            request['image'] = {'properties': image}
        request['project_id'] = rng.choice(['p1', 'p2', 'p3'])
        zone = rng.choice((None,) + ZONES)
        if zone:
            request['availability_zone'] = zone
        result.append(request)
    return result


ORACLE_CONFIG = {'enabled_filters': ENABLED_FILTERS,
                 'max_instances_per_host': 50, 'namespace': None,
                 'separator': '.', 'isolate': True, 'default_zone': 'nova'}


def check(body, expected, where):
    actual = {'hosts': [(h['host'], h['zone'], h['aggregates'])
                        for h in body['hosts']],
              'rejected': [(r['host'], r['filter'])
                           for r in body['rejected']]}
    if actual != expected:
        raise BenchmarkError('%s: the answer differs from the independent '
                             'evaluation' % where)
    if not all(r['reason'] for r in body['rejected']):
        raise BenchmarkError('%s: a refusal without reason' % where)


def populate(transport, layout):
    """Create the layout's aggregates through the API (untimed)."""
    for agg in layout.aggregates:
        body = {'aggregate': {'name': agg['name']}}
        zone = agg['metadata'].get('availability_zone')
        if zone:
            body['aggregate']['availability_zone'] = zone
        agg['id'] = transport.request('POST', '/v2.1/os-aggregates',
                                      body).expect(200).json()[
            'aggregate']['id']
        action = '/v2.1/os-aggregates/%d/action' % agg['id']
        transport.request('POST', action, {'set_metadata': {
            'metadata': agg['metadata']}}).expect(200)
        for host in agg['hosts']:
            transport.request('POST', action, {'add_host': {
                'host': host}}).expect(200)


def run(transport, layout, count, seed=1, record=None):
    """Time ``count`` matching requests, back to back; then check every
    answer (the independent evaluation takes far longer than a request,
    and run in between it would leave each request a machine whose caches
    it had just emptied)."""
    from tests.support import host_matching_oracle as oracle
    answers = []
    for request in requests(count, seed):
        resp = transport.request('POST', '/v2.1/os-host-matching',
                                 {'request': request}).expect(200)
        if record is not None:
            record(OP, resp)
        answers.append((request, resp))
    model = layout.as_oracle_layout()
    outcomes = collections.Counter()
    for number, (request, resp) in enumerate(answers):
        body = resp.json()
        check(body, oracle.evaluate(model, request, ORACLE_CONFIG),
              'request %d %r' % (number, request))
        outcomes['matched'] += len(body['hosts'])
        outcomes.update(r['filter'] for r in body['rejected'])
    return dict(outcomes)


def statements(tmpdir, sizes, seed=1):
    """{label: statements of one matching request}, in-process, on a
    layout written straight to the database at each (hosts, aggregates,
    keys) of ``sizes``."""
    from benchmarks import inprocess
    from nova_aggregates.db import api as db_api
    result = {}
    for hosts, aggregates, keys in sizes:
        label = 'H=%d A=%d M=%d' % (hosts, aggregates, keys)
        app = inprocess.InProcessApp(tmpdir, 'matching-%d-%d-%d' % (
            hosts, aggregates, keys))
        try:
            for group, options in SERVER_OPTIONS.items():
                for name, value in options.items():
                    app.conf.set_override(name, value, group=group)
            layout = Layout(hosts, aggregates, keys, seed=seed)
            app.register_hosts(layout.registered())
            from nova_aggregates import context
            ctx = context.get_admin_context()
            with db_api.writer.using(ctx):
                for agg in layout.aggregates:
                    created = db_api.aggregate_create(ctx, agg['name'],
                                                      agg['metadata'])
                    for host in agg['hosts']:
                        db_api.aggregate_host_add(ctx, created['id'], host)
            transport = app.counting_transport()
            counts = []
            latencies = []
            for request in requests(10, seed):
                resp = transport.request('POST', '/v2.1/os-host-matching',
                                         {'request': request}).expect(200)
                counts.append(transport.last_probe.count)
                latencies.append(resp.elapsed)
            result[label] = {'min': min(counts), 'max': max(counts),
                             'median_ms': 1000.0 * stats.median(latencies)}
        finally:
            for group, options in SERVER_OPTIONS.items():
                for name in options:
                    app.conf.clear_override(name, group=group)
            app.close()
    return result


def measure(server_port, layout, count, seed=1, cpu=None):
    """Populate, warm up and time; the results of the HTTP part."""
    from benchmarks.transport import HTTPTransport
    transport = HTTPTransport(server_port)
    started = time.monotonic()
    populate(transport, layout)
    setup_s = time.monotonic() - started
    run(transport, layout, 3, seed=seed + 1)  # warm-up: every code path
    recorder = stats.Recorder()

    def record(op, resp):
        extra = {}
        if cpu is not None and cpu.available:
            extra['server_cpu_s'] = cpu.take()
        recorder.add(op, resp.elapsed, **extra)
    if cpu is not None:
        cpu.reset()
    outcomes = run(transport, layout, count, seed=seed, record=record)
    transport.close()
    summary = recorder.summary()[OP]
    summary['setup_s'] = setup_s
    summary['outcomes'] = outcomes
    return summary


def bench(tmp, args, say=print):
    """The whole part: a server on a fresh database with the hosts
    registered, the layout populated and timed (and again with every host
    in two aggregates unless ``--quick``), then the statement counts."""
    from benchmarks import server as srv
    results = {'sizes': {'hosts': args.matching_hosts,
                         'aggregates': args.matching_aggregates,
                         'keys': args.matching_keys,
                         'requests': args.matching_requests}}
    shapes = [('disjoint', False)] + ([] if args.quick else
                                      [('overlap', True)])
    for name, overlap in shapes:
        layout = Layout(args.matching_hosts, args.matching_aggregates,
                        args.matching_keys, overlap=overlap, seed=args.seed)
        port = srv.free_port()
        label = 'matching-%s' % name
        conf = srv.write_config(os.path.join(tmp, label + '.conf'),
                                os.path.join(tmp, label + '.sqlite'), port,
                                threads=getattr(args, 'threads', None),
                                extra=SERVER_OPTIONS)
        log = os.path.join(tmp, label + '.log')
        srv.prepare_databases([(conf, layout.registered(), log)])
        with srv.api_server(conf, port, log).start() as server:
            summary = measure(port, layout, args.matching_requests,
                              seed=args.seed, cpu=srv.CPUMeter(server))
        results[name] = summary
        say('  %s: %d hosts in %d aggregates (%s), median %.2f ms, p99 '
            '%.2f ms (setup %.1f s)' % (
                OP, len(layout.hosts), len(layout.aggregates), name,
                summary['median_ms'], summary['p99_ms'], summary['setup_s']))
    small = (min(10, args.matching_hosts), min(2, args.matching_aggregates),
             args.matching_keys)
    sizes = [small] + ([(args.matching_hosts, args.matching_aggregates,
                         args.matching_keys)]
                       if small != (args.matching_hosts,
                                    args.matching_aggregates,
                                    args.matching_keys) else [])
    results['sql'] = statements(tmp, sizes, seed=args.seed)
    say('  SQL statements per matching request: %s' % ', '.join(
        '%s: %s' % (label, c['min'] if c['min'] == c['max'] else
                    '%d-%d' % (c['min'], c['max']))
        for label, c in results['sql'].items()))
    return results


def add_arguments(parser):
    parser.add_argument('--matching-hosts', type=int, default=1000)
    parser.add_argument('--matching-aggregates', type=int, default=200)
    parser.add_argument('--matching-keys', type=int, default=10,
                        help='metadata keys per aggregate (the zone '
                             'included)')
    parser.add_argument('--matching-requests', type=int, default=50,
                        help='timed matching requests')


QUICK = {'matching_hosts': 50, 'matching_aggregates': 10,
         'matching_keys': 10, 'matching_requests': 5}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks.host_matching',
        description=__doc__.split('\n\n')[0])
    add_arguments(parser)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--quick', action='store_true',
                        help='a small layout (a smoke test, seconds)')
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    import shutil
    tmp = tempfile.mkdtemp(prefix='nova-agg-matching-')
    try:
        results = bench(tmp, args)
    except BenchmarkError as exc:
        print('BENCHMARK FAILED: %s (kept %s)' % (exc, tmp), file=sys.stderr)
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    from benchmarks import report
    print(report.matching_table(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
