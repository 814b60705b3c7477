"""Pool aggregates on the XenServer simulator (xenapi driver).

P pool aggregates of K simulated hosts each, for several rounds::

    create          POST  (no zone)
    set_metadata    {"hypervisor_pool": "true"} while empty
    add_host        first host: it becomes the master ("form")
                    later hosts: pool.join on the master ("join")
    show, list
    remove_host     members in reverse order ("eject"), the master last
                    ("dissolve")
    delete

Each pool keeps its hosts across rounds; round r rotates them by r // 2.
So round 2 (same master as round 1) forms the pool on a host the driver
already knows, and round 3 (rotated) has the previous master join: a host
whose session and facts the driver still has.  Operations are labelled
"warm" when the driver should need no login: every host involved was
contacted before and has not been through a join or an eject since (an
ejected host reboots: its sessions are gone; a joined host's own session
dies as it becomes a member).  Otherwise "cold".

For every request the simulator's call log and login counters are read
(through its admin endpoint, outside the timed section): XenAPI calls
(logins included) and logins per operation, and the methods called.
"""

import collections
import http.client
import json
import urllib.parse

from benchmarks.transport import BenchmarkError
from benchmarks import workload as wl

POOL_FLAG = 'hypervisor_pool'
MASTER = 'master_compute'
STATE = 'operational_state'
UUID_PREFIX = 'xenapi_host_uuid:'


class SimulatorAdmin:
    """Client of the simulator's JSON admin endpoint (``control_url``)."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname
        self.port = parts.port

    def _call(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={'Content-Type': 'application/json'})
            answer = conn.getresponse()
            payload = answer.read()
        finally:
            conn.close()
        if answer.status not in (200, 201):
            raise BenchmarkError('simulator admin %s %s: HTTP %d %r' % (
                method, path, answer.status, payload[:200]))
        return json.loads(payload)

    def clear_calls(self):
        self._call('DELETE', '/calls')

    def calls(self):
        return [(c['host'], c['method']) for c in self._call('GET', '/calls')]

    def logins(self):
        return sum(self._call('GET', '/logins').values())

    def hosts(self):
        return {h['name']: h for h in self._call('GET', '/hosts')}

    def pools(self):
        return self._call('GET', '/pools')

    def vms(self):
        return self._call('GET', '/vms')

    def add_vm(self, host, name, memory):
        """A running guest of ``memory`` bytes on ``host``; its uuid."""
        return self._call('POST', '/hosts/%s/vms' % host,
                          {'name': name, 'memory': memory})['uuid']

    def settle(self, timeout=10.0):
        if not self._call('POST', '/settle', {'timeout': timeout}).get(
                'settled'):
            raise BenchmarkError('simulator did not settle in %s s' % timeout)


class PoolWorkload:

    def __init__(self, transport, admin, host_names, pools=4, per_pool=5,
                 rounds=3, seed=1):
        if len(host_names) < pools * per_pool:
            raise BenchmarkError('%d pools of %d hosts need %d simulated '
                                 'hosts, have %d' % (pools, per_pool,
                                                     pools * per_pool,
                                                     len(host_names)))
        self.work = wl.Workload(transport, aggregates=0, hosts=0, keys=0,
                                lists=1, seed=seed, prefix='pool')
        self.admin = admin
        self.host_names = list(host_names)
        self.pools = pools
        self.per_pool = per_pool
        self.rounds = rounds
        self.uuids = {name: h['uuid'] for name, h in admin.hosts().items()}
        #: Hosts the driver should hold a live session and facts for.
        self.warm = set()

    def _measured(self, record, op, fn, *args):
        """Run one request with the simulator's counters around it."""
        self.admin.clear_calls()
        logins_before = self.admin.logins()
        answers = []
        fn(*args, record=lambda name, resp: answers.append(resp), op=op)
        calls = self.admin.calls()
        logins = self.admin.logins() - logins_before
        record(op, answers[-1], xenapi_calls=len(calls), logins=logins,
               methods=[method for _host, method in calls])

    def _groups(self, round_no):
        result = []
        for k in range(self.pools):
            group = self.host_names[k * self.per_pool:
                                    (k + 1) * self.per_pool]
            shift = (round_no // 2) % len(group)
            result.append(group[shift:] + group[:shift])
        return result

    def _label(self, action, *hosts):
        warm = all(host in self.warm for host in hosts)
        return '%s, %s)' % (action, 'warm' if warm else 'cold')

    def run(self, record):
        for round_no in range(self.rounds):
            self._round(round_no, record)

    def _round(self, round_no, record):
        work = self.work
        groups = self._groups(round_no)
        aggs = []
        for k in range(len(groups)):
            exp = wl.Expected(len(aggs), 'pool-r%d-%d' % (round_no, k), None)
            self._measured(record, 'pool create', self._create, exp)
            exp.metadata[STATE] = 'created'
            self._measured(record, 'pool set_metadata', work.action, exp,
                           'set_metadata', {'metadata': {POOL_FLAG: 'true'}})
            aggs.append(exp)
        for exp, group in zip(aggs, groups):
            for position, host in enumerate(group):
                exp.metadata[STATE] = 'active'
                exp.metadata[UUID_PREFIX + host] = self.uuids[host]
                if position == 0:
                    exp.metadata[MASTER] = host
                    op = self._label('add_host (form pool', host)
                else:
                    op = self._label('add_host (join', host, group[0])
                self._measured(record, op, work.action, exp, 'add_host',
                               {'host': host})
                if position == 0:
                    self.warm.add(host)
                else:
                    self.warm.discard(host)
        self.admin.settle()
        self._check_pools(aggs, groups)
        for exp in aggs:
            self._measured(record, 'pool show', work.show, exp)
        self._measured(record, 'pool list', work.list, aggs)
        for exp, group in zip(aggs, groups):
            for host in reversed(group[1:]):
                exp.metadata.pop(UUID_PREFIX + host)
                self._measured(record, 'remove_host (eject)', work.action,
                               exp, 'remove_host', {'host': host})
                self.warm.discard(host)
            exp.metadata.pop(UUID_PREFIX + group[0])
            exp.metadata.pop(MASTER)
            exp.metadata[STATE] = 'created'
            self._measured(record, 'remove_host (dissolve pool)',
                           work.action, exp, 'remove_host',
                           {'host': group[0]})
        for exp in aggs:
            self._measured(record, 'pool delete', work.delete, exp)
        # Ejected hosts reboot; the next round needs them back.
        self.admin.settle()
        work.list([])

    def _create(self, exp, record=None, op=None):
        resp = self.work.t.request('POST', wl.BASE, {'aggregate': {
            'name': exp.name}}).expect(200)
        body = wl.unwrap(resp)
        wl.check_aggregate(body, exp, 'create %s' % exp.name, members=False)
        exp.id = body['id']
        record(op, resp)

    def _check_pools(self, aggs, groups):
        """XenServer's view (the simulator's) matches the aggregates."""
        pools = {p['master']: p for p in self.admin.pools()}
        for exp, group in zip(aggs, groups):
            pool = pools.get(group[0])
            if pool is None or pool['members'] != sorted(group) or \
                    pool['name_label'] != exp.name:
                raise BenchmarkError(
                    'aggregate %s (%s): simulator pool is %r, expected '
                    'master %s, members %s' % (exp.id, exp.name, pool,
                                               group[0], sorted(group)))


def summarize_calls(extras):
    """XenAPI calls and logins per request of one operation, and the
    distinct call patterns (how often each)."""
    if not extras:
        return None
    calls = [e['xenapi_calls'] for e in extras]
    logins = [e['logins'] for e in extras]
    patterns = collections.Counter(
        (e['xenapi_calls'], e['logins'], tuple(e['methods']))
        for e in extras)
    return {
        'calls_mean': sum(calls) / len(calls),
        'calls_min': min(calls),
        'calls_max': max(calls),
        'logins_mean': sum(logins) / len(logins),
        'logins_min': min(logins),
        'logins_max': max(logins),
        'patterns': [
            {'count': n, 'calls': c, 'logins': lg, 'methods': list(m)}
            for (c, lg, m), n in sorted(patterns.items(),
                                        key=lambda item: (item[0][0],
                                                          -item[1]))],
    }
