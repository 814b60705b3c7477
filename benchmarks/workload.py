"""The fixed, seeded os-aggregates workload, and the checks of every answer.

A run with sizes (A, H, M, R) does, one request at a time::

    create        A  POST   /v2.1/os-aggregates           (name + zone)
    add_host  A x H  POST   /v2.1/os-aggregates/{id}/action
    set_metadata  A  POST   .../action                    (M keys at once)
    list          R  GET    /v2.1/os-aggregates           (A aggregates)
    show          A  GET    /v2.1/os-aggregates/{id}
    show_304      A  GET    .../{id}, If-None-Match: its ETag (unchanged)
    list_304  max(R, 100) GET /v2.1/os-aggregates, If-None-Match: its ETag
    update        A  PUT    /v2.1/os-aggregates/{id}      (rename)
    remove_host A x H POST  .../action
    delete        A  DELETE /v2.1/os-aggregates/{id}

Aggregate i is in availability zone ``az(i % 10 + 1)`` and gets hosts
``cn<i>-0`` ... ``cn<i>-<H-1>`` (registered beforehand in that zone).  The
seed picks metadata values and the order in which set_metadata, show,
update and delete visit the aggregates.  Every answer is compared with a
model of what the server must hold; a wrong answer stops the run.
"""

import contextlib
import random
import re

from benchmarks.transport import BenchmarkError

BASE = '/v2.1/os-aggregates'
ZONES = 10
FIELDS = frozenset(('id', 'name', 'availability_zone', 'created_at',
                    'updated_at', 'deleted_at', 'deleted', 'hosts',
                    'metadata'))
CREATE_FIELDS = FIELDS - {'hosts', 'metadata'}
_TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')

OPERATIONS = ('create', 'add_host', 'set_metadata', 'list', 'show',
              'show_304', 'list_304', 'update', 'remove_host', 'delete')


def host_name(index, slot):
    return 'cn%05d-%d' % (index, slot)


def zone_of(index):
    return 'az%d' % (index % ZONES + 1)


def hosts_to_register(aggregates, hosts, extra_single=0):
    """(name, zone) of every compute host a run needs: H hosts for each of
    the first ``aggregates`` aggregates, one for each up to
    ``extra_single``."""
    result = []
    for index in range(max(aggregates, extra_single)):
        slots = hosts if index < aggregates else 1
        for slot in range(max(slots, 1)):
            result.append((host_name(index, slot), zone_of(index)))
    return result


class Expected:
    """What the server must answer for one aggregate."""

    __slots__ = ('index', 'id', 'name', 'zone', 'hosts', 'metadata',
                 'changed')

    def __init__(self, index, name, zone):
        self.index = index
        self.id = None
        self.name = name
        self.zone = zone
        self.hosts = []
        self.metadata = {'availability_zone': zone} if zone else {}
        self.changed = False


def check_aggregate(body, exp, where, members=True):
    """Compare one aggregate body with the model; BenchmarkError if not."""
    fields = FIELDS if members else CREATE_FIELDS
    problems = []
    if not isinstance(body, dict):
        raise BenchmarkError('%s: aggregate body is not an object: %r'
                             % (where, body))
    if set(body) != fields:
        problems.append('fields %s, expected %s' % (sorted(body),
                                                    sorted(fields)))
    if exp.id is not None and body.get('id') != exp.id:
        problems.append('id %r, expected %r' % (body.get('id'), exp.id))
    if not isinstance(body.get('id'), int):
        problems.append('id %r is not an integer' % (body.get('id'),))
    if body.get('name') != exp.name:
        problems.append('name %r, expected %r' % (body.get('name'),
                                                  exp.name))
    if body.get('availability_zone') != exp.zone:
        problems.append('availability_zone %r, expected %r' % (
            body.get('availability_zone'), exp.zone))
    if body.get('deleted') is not False or body.get('deleted_at') is not None:
        problems.append('deleted/deleted_at %r/%r' % (
            body.get('deleted'), body.get('deleted_at')))
    if not _TIMESTAMP.match(str(body.get('created_at'))):
        problems.append('created_at %r' % (body.get('created_at'),))
    updated = body.get('updated_at')
    if exp.changed and not _TIMESTAMP.match(str(updated)):
        problems.append('updated_at %r after a change' % (updated,))
    if not exp.changed and updated is not None:
        problems.append('updated_at %r before any change' % (updated,))
    if members:
        if sorted(body.get('hosts') or ()) != sorted(exp.hosts) or \
                not isinstance(body.get('hosts'), list):
            problems.append('hosts %r, expected %r' % (body.get('hosts'),
                                                       exp.hosts))
        if body.get('metadata') != exp.metadata:
            problems.append('metadata %r, expected %r' % (
                body.get('metadata'), exp.metadata))
    if problems:
        raise BenchmarkError('%s: wrong answer: %s' % (where,
                                                       '; '.join(problems)))


def unwrap(response, key='aggregate'):
    body = response.json()
    if not isinstance(body, dict) or set(body) != {key}:
        raise BenchmarkError('%s %s: expected {"%s": ...}, got %r' % (
            response.method, response.path, key, str(body)[:200]))
    return body[key]


def check_list(response, expected):
    """The list holds exactly the aggregates of ``expected`` (by id)."""
    items = unwrap(response, 'aggregates')
    if not isinstance(items, list):
        raise BenchmarkError('GET %s: "aggregates" is not a list' % BASE)
    by_id = {exp.id: exp for exp in expected}
    seen = set()
    for body in items:
        exp = by_id.get(body.get('id') if isinstance(body, dict) else None)
        if exp is None:
            raise BenchmarkError('GET %s: unexpected aggregate %r' % (
                BASE, str(body)[:200]))
        if exp.id in seen:
            raise BenchmarkError('GET %s: aggregate %s listed twice' % (
                BASE, exp.id))
        seen.add(exp.id)
        check_aggregate(body, exp, 'GET %s (aggregate %s)' % (BASE, exp.id))
    if len(seen) != len(by_id):
        raise BenchmarkError('GET %s: %d aggregates listed, expected %d' % (
            BASE, len(seen), len(by_id)))


#: Polls (and floor requests before them) per block of the read phase.
POLL_BLOCK = 20
#: The unchanged list is polled at least this many times (in blocks, as
#: the aggregates are): R alone (20) made one block, whose median a single
#: slow moment of the machine could move.
LIST_POLLS = 5 * POLL_BLOCK


def _no_span(op):
    return contextlib.nullcontext()


class Workload:
    """The seeded workload of the module docstring over one transport."""

    def __init__(self, transport, aggregates=200, hosts=5, keys=5, lists=20,
                 seed=1, prefix='bench', span=None):
        self.t = transport
        #: ``span(op)``: a context manager around each run of one
        #: operation's requests (the benchmark's server CPU meter reads
        #: the server's CPU time at its two ends, not between requests).
        self.span = span or _no_span
        self.aggregates = aggregates
        self.hosts = hosts
        self.keys = keys
        self.lists = lists
        self.rng = random.Random(seed)
        self.prefix = '%s-%d' % (prefix, seed)
        self.expected = []
        #: Latencies of the floor's requests sent among the polls (read).
        self.floor_near_polls = []

    # -- single operations (each checks its answer) ------------------------

    def create(self, index, record=None, op='create'):
        exp = Expected(index, '%s-%05d' % (self.prefix, index),
                       zone_of(index))
        resp = self.t.request('POST', BASE, {'aggregate': {
            'name': exp.name, 'availability_zone': exp.zone}})
        resp.expect(200)
        body = unwrap(resp)
        check_aggregate(body, exp, 'create %s' % exp.name, members=False)
        exp.id = body['id']
        if record is not None:
            record(op, resp)
        return exp

    def action(self, exp, name, args, record=None, op=None):
        path = '%s/%d/action' % (BASE, exp.id)
        resp = self.t.request('POST', path, {name: args})
        resp.expect(200)
        exp.changed = True
        if name == 'add_host':
            exp.hosts.append(args['host'])
        elif name == 'remove_host':
            exp.hosts.remove(args['host'])
        else:
            for key, value in args['metadata'].items():
                if value is None:
                    exp.metadata.pop(key, None)
                else:
                    exp.metadata[key] = value
        check_aggregate(unwrap(resp), exp, '%s %s' % (name, path))
        if record is not None:
            record(op or name, resp)
        return resp

    def show(self, exp, record=None, op='show'):
        path = '%s/%d' % (BASE, exp.id)
        resp = self.t.request('GET', path).expect(200)
        check_aggregate(unwrap(resp), exp, 'GET %s' % path)
        if record is not None:
            record(op, resp)
        return resp

    def update(self, exp, record=None, op='update'):
        path = '%s/%d' % (BASE, exp.id)
        new_name = exp.name + '-renamed'
        resp = self.t.request('PUT', path, {'aggregate': {'name': new_name}})
        resp.expect(200)
        exp.name = new_name
        exp.changed = True
        check_aggregate(unwrap(resp), exp, 'PUT %s' % path)
        if record is not None:
            record(op, resp)
        return resp

    def delete(self, exp, record=None, op='delete'):
        path = '%s/%d' % (BASE, exp.id)
        resp = self.t.request('DELETE', path).expect(200)
        if resp.body.strip():
            raise BenchmarkError('DELETE %s: expected an empty body, got %r'
                                 % (path, resp.body[:200]))
        if record is not None:
            record(op, resp)
        return resp

    def list(self, expected, record=None, op='list'):
        resp = self.t.request('GET', BASE).expect(200)
        check_list(resp, expected)
        if record is not None:
            record(op, resp)
        return resp

    def not_modified(self, path, etag, record=None, op=None):
        """A poll of an unchanged aggregate (or list) with its ETag: 304,
        no body, the same ETag."""
        if not etag:
            raise BenchmarkError('GET %s: no ETag' % path)
        resp = self.t.request('GET', path, headers={'If-None-Match': etag})
        resp.expect(304)
        if resp.body or resp.etag != etag:
            raise BenchmarkError('GET %s: 304 with body %r, ETag %r (sent '
                                 '%r)' % (path, resp.body[:100], resp.etag,
                                          etag))
        if record is not None:
            record(op, resp)
        return resp

    def metadata_for(self, exp):
        return {'key-%d' % k: '%s-%08x' % (exp.name[-5:],
                                           self.rng.getrandbits(32))
                for k in range(self.keys)}

    # -- phases --------------------------------------------------------------

    def populate(self, record=None):
        """create, add_host, set_metadata: leaves A full aggregates."""
        with self.span('create'):
            for index in range(self.aggregates):
                self.expected.append(self.create(index, record))
        with self.span('add_host'):
            for exp in self.expected:
                for slot in range(self.hosts):
                    self.action(exp, 'add_host',
                                {'host': host_name(exp.index, slot)}, record)
        if self.keys:
            with self.span('set_metadata'):
                for exp in self._shuffled():
                    self.action(exp, 'set_metadata',
                                {'metadata': self.metadata_for(exp)}, record)

    def read(self, record=None, floor=None):
        """``floor``: a callable sending one hello request (the floor's
        server) and returning its latency; a block of them is sent before
        each block of polls (``floor_near_polls``), so that the polls are
        compared with a floor measured alongside, not minutes before."""
        with self.span('list'):
            for _ in range(self.lists):
                listed = self.list(self.expected, record)
        with self.span('show'):
            shown = [(exp, self.show(exp, record).etag)
                     for exp in self._shuffled()]
        # Pollers of what did not change.
        polls = {'show_304': [('%s/%d' % (BASE, exp.id), etag)
                              for exp, etag in shown],
                 'list_304': [(BASE, listed.etag)] * max(
                     self.lists, LIST_POLLS, len(shown))}
        # The kinds' blocks take turns (a show block, a list block, ...),
        # as many of each: polled one kind after the other, whichever came
        # second ran up to 1.4x slower against the same floor
        # (doc/performance.md).
        blocks = {op: [paths[start:start + POLL_BLOCK]
                       for start in range(0, len(paths), POLL_BLOCK)]
                  for op, paths in polls.items()}
        for turn in range(max(len(b) for b in blocks.values())):
            for op, op_blocks in blocks.items():
                if turn >= len(op_blocks):
                    continue
                block = op_blocks[turn]
                if floor is not None:
                    self.floor_near_polls.extend(floor() for _ in block)
                with self.span(op):
                    for path, etag in block:
                        self.not_modified(path, etag, record, op)

    def teardown(self, record=None):
        with self.span('update'):
            for exp in self._shuffled():
                self.update(exp, record)
        with self.span('remove_host'):
            for exp in self.expected:
                for host in list(reversed(exp.hosts)):
                    self.action(exp, 'remove_host', {'host': host}, record)
        with self.span('delete'):
            for exp in self._shuffled():
                self.delete(exp, record)
        self.expected = []
        self.list([])

    def run(self, record=None, floor=None):
        self.populate(record)
        self.read(record, floor)
        self.teardown(record)

    def _shuffled(self):
        items = list(self.expected)
        self.rng.shuffle(items)
        return items


def run_scaling(transport, sizes, lists, record_for, sample=50, seed=1):
    """Aggregates accumulate (one host each, as in the reference figures);
    at each size: add_host and show of the last ``sample`` aggregates,
    ``lists`` lists and then ``sample`` (at least ``lists``) polls of the
    unchanged list (``list_304``) are timed.  ``record_for(size)`` returns the record
    callable of one size."""
    work = Workload(transport, aggregates=0, hosts=1, keys=0, lists=lists,
                    seed=seed, prefix='scale')
    for size in sorted(sizes):
        record = record_for(size)
        take = max(1, min(sample, size // 2))
        start = len(work.expected)
        for index in range(start, size):
            exp = work.create(index)
            work.expected.append(exp)
            timed = record if index >= size - take else None
            work.action(exp, 'add_host', {'host': host_name(index, 0)},
                        timed)
        for exp in work.expected[size - take:]:
            work.show(exp, record)
        for _ in range(lists):
            listed = work.list(work.expected, record)
        # Polls are cheap: as many as the add_hosts timed, for a median
        # that one slow poll does not move.
        for _ in range(max(lists, take)):
            work.not_modified(BASE, listed.etag, record, 'list_304')
    return work


def spare_host(index):
    """The host ``run_side_by_side`` adds to (and removes from) scaling
    aggregate ``index``: its second slot, registered in its zone."""
    return host_name(index, 1)


def run_side_by_side(works, spares, blocks, per_block, polls, record_for):
    """The scaling run's smallest and largest sizes measured at once: each
    of ``works`` ({size: Workload of the scaling run}) on its own server,
    blocks taking turns, so that the machine's drift over a run (its
    speed changes by a third within minutes) falls on both alike.  Per
    block and size: ``per_block`` add_hosts (``spare_host`` of one of the
    first ``spares`` aggregates, removed again untimed: each size keeps
    its aggregates of one host), one list (untimed) and ``polls`` polls
    of it unchanged (``list_304``).  ``record_for(size)`` returns the record
    callable of one size."""
    records = {size: record_for(size) for size in works}
    turn = 0
    for _ in range(blocks):
        for size in sorted(works):
            work, record = works[size], records[size]
            for step in range(per_block):
                exp = work.expected[(turn + step) % spares]
                host = spare_host(exp.index)
                work.action(exp, 'add_host', {'host': host}, record)
                work.action(exp, 'remove_host', {'host': host})
            # Untimed: the first list after a change renders it anew
            # (the scaling run times lists of an unchanged set).
            listed = work.list(work.expected)
            for _ in range(polls):
                work.not_modified(BASE, listed.etag, record, 'list_304')
        turn += per_block
