"""Host maintenance on the XenServer simulator (xenapi driver, api-contract
section 13): a host's guests live-migrated away and back, through HTTP.

One pool aggregate of 3 simulated hosts per guest count G (``--maintenance-
guests``, 0, 10 and 50 by default); once its pool has formed (a host
running guests cannot join), every host of pool G gets G running guests
(128, 256 and 512 MiB in turn).  Then, ``--maintenance-rounds`` times, for
each pool::

    enable (member)    PUT os-hosts/<member> {"maintenance_mode": "enable"}:
                       disable it, plan, live-migrate its G guests to the
                       two other members
    disable (member)   {"maintenance_mode": "disable"}: enable it, migrate
                       its G guests back
    enable (master)    the same on the pool master, which first hands the
                       master role over (pool.designate_new_master)
    disable (master)   and back (the role stays where it went)

The master is whichever host the simulator says is master at the start of
the round (every round hands the role over again), the member the first
other host.  Every answer is checked (status, host, mode, the guests moved
and where to), and so is the simulator afterwards: no guest left on a host
in maintenance, every guest home again after it leaves, the master the
aggregate records is the simulator's.

For every request the simulator's call log and login counter are read
(through its admin endpoint, outside the timed section), as in the pool
benchmark: XenAPI calls per request and by method, so that the calls per
guest moved can be told from the calls per request.

The simulator's migrations take no time (``migrate_delay`` 0): what is
timed is the service, the XenAPI round trips and the driver's wait for the
migration task, at least one ``[xenapi] poll_interval`` per guest
(``--maintenance-poll-interval``, 0.02 s here; 0.2 s by default).
"""

import collections

from benchmarks.transport import BenchmarkError

MIB = 1024 ** 2
GUEST_SIZES_MB = (128, 256, 512)
PER_POOL = 3
MASTER = 'master_compute'
OPERATIONS = ('enable (member)', 'disable (member)', 'enable (master)',
              'disable (master)')
#: The calls live_migrate makes for one guest (api-contract section 13,
#: virt/xenapi/host.py): the task, its polls, its error (failures only),
#: a cancel (timeouts only), its destruction -- and then the proof of
#: residence, a VM.get_resident_on right after the task.destroy (migrations
#: run one at a time: [maintenance] max_concurrent_migrations = 1).  Leaving
#: maintenance also reads where each guest runs before moving it back
#: (another VM.get_resident_on), which is not part of the migration.
TASK_METHODS = ('Async.VM.pool_migrate', 'task.get_status',
                'task.get_error_info', 'task.cancel', 'task.destroy')
PROOF = 'VM.get_resident_on'


def label(op, guests):
    return '%s, G=%d' % (op, guests)


def hosts_needed(guest_counts):
    return PER_POOL * len(guest_counts)


class MaintenanceWorkload:

    def __init__(self, transport, admin, host_names, guest_counts, rounds=2):
        if len(host_names) < hosts_needed(guest_counts):
            raise BenchmarkError('%d pools of %d hosts need %d simulated '
                                 'hosts, have %d' % (
                                     len(guest_counts), PER_POOL,
                                     hosts_needed(guest_counts),
                                     len(host_names)))
        self.t = transport
        self.admin = admin
        self.guest_counts = list(guest_counts)
        self.rounds = rounds
        self.pools = {}  # G -> {"id", "hosts"}
        for k, guests in enumerate(self.guest_counts):
            self.pools[guests] = {
                'hosts': list(host_names[k * PER_POOL:(k + 1) * PER_POOL])}

    # -- setup (untimed) ------------------------------------------------------

    def _call(self, method, path, body=None, status=200):
        resp = self.t.request(method, path, body).expect(status)
        return resp.json() if resp.body else None

    def setup(self):
        for guests, pool in self.pools.items():
            agg = self._call('POST', '/v2.1/os-aggregates', {'aggregate': {
                'name': 'maintenance-g%d' % guests}})['aggregate']
            pool['id'] = agg['id']
            action = '/v2.1/os-aggregates/%d/action' % agg['id']
            self._call('POST', action, {'set_metadata': {'metadata': {
                'hypervisor_pool': 'true'}}})
            for host in pool['hosts']:
                self._call('POST', action, {'add_host': {'host': host}})
        self.admin.settle()
        for guests, pool in self.pools.items():
            for host in pool['hosts']:
                for i in range(guests):
                    self.admin.add_vm(
                        host, '%s-vm%d' % (host, i),
                        GUEST_SIZES_MB[i % len(GUEST_SIZES_MB)] * MIB)
        self.home = {vm['uuid']: vm['host'] for vm in self.admin.vms()}

    # -- the timed requests ---------------------------------------------------

    def run(self, record):
        for _ in range(self.rounds):
            for guests, pool in self.pools.items():
                master = self._master(pool)
                member = [h for h in pool['hosts'] if h != master][0]
                self._cycle(record, guests, pool, member, 'member')
                self._cycle(record, guests, pool, master, 'master')

    def _master(self, pool):
        masters = {p['master'] for p in self.admin.pools()
                   if set(p['members']) == set(pool['hosts'])}
        if len(masters) != 1:
            raise BenchmarkError('no simulator pool of exactly %s' %
                                 pool['hosts'])
        return masters.pop()

    def _cycle(self, record, guests, pool, host, role):
        others = set(pool['hosts']) - {host}
        body = self._measured(record, label('enable (%s)' % role, guests),
                              host, 'enable')
        moved = body.get('evacuated', [])
        self._check_answer(body, host, 'disabled', 'on_maintenance')
        if len(moved) != guests or not all(m['to'] in others
                                           for m in moved):
            raise BenchmarkError('%s: %d guests, evacuated %r' % (
                host, guests, moved))
        where = self._where()
        left = [uuid for uuid, at in where.items() if at == host]
        if left:
            raise BenchmarkError('%s in maintenance still runs %s'
                                 % (host, left))
        if role == 'master':
            master = self._master(pool)
            recorded = self._call('GET', '/v2.1/os-aggregates/%d' %
                                  pool['id'])['aggregate']['metadata']
            if master == host or recorded.get(MASTER) != master:
                raise BenchmarkError(
                    'after the maintenance of master %s the simulator says '
                    '%s is master, the aggregate %s' % (
                        host, master, recorded.get(MASTER)))
        body = self._measured(record, label('disable (%s)' % role, guests),
                              host, 'disable')
        self._check_answer(body, host, 'enabled', 'off_maintenance')
        restored = body.get('restored', [])
        if len(restored) != guests or body.get('skipped'):
            raise BenchmarkError('%s: %d guests, restored %r, skipped %r' % (
                host, guests, restored, body.get('skipped')))
        if self._where() != self.home:
            raise BenchmarkError('after %s left maintenance its guests are '
                                 'not all home' % host)

    def _measured(self, record, op, host, mode):
        self.admin.clear_calls()
        logins_before = self.admin.logins()
        resp = self.t.request('PUT', '/v2.1/os-hosts/%s' % host,
                              {'maintenance_mode': mode}).expect(200)
        calls = self.admin.calls()
        body = resp.json()
        moved = len(body.get('evacuated', body.get('restored', [])))
        record(op, resp, xenapi_calls=len(calls),
               logins=self.admin.logins() - logins_before,
               methods=[method for _host, method in calls], moved=moved)
        return body

    @staticmethod
    def _check_answer(body, host, status, mode):
        if (body.get('host'), body.get('status'),
                body.get('maintenance_mode')) != (host, status, mode):
            raise BenchmarkError('PUT os-hosts/%s: answered %r' % (host,
                                                                   body))

    def _where(self):
        return {vm['uuid']: vm['host'] for vm in self.admin.vms()}


def summarize(extras):
    """XenAPI calls of one operation: per request, by method (mean), and
    per guest moved (the migration methods, and every call)."""
    if not extras:
        return None
    count = len(extras)
    moved = sum(e['moved'] for e in extras)
    methods = collections.Counter()
    migration = 0
    for e in extras:
        methods.update(e['methods'])
        previous = None
        for method in e['methods']:
            if method in TASK_METHODS or (method == PROOF and
                                          previous == 'task.destroy'):
                migration += 1
            previous = method
    calls = [e['xenapi_calls'] for e in extras]
    return {
        'calls_mean': sum(calls) / count,
        'calls_min': min(calls),
        'calls_max': max(calls),
        'logins_max': max(e['logins'] for e in extras),
        'guests_moved_mean': moved / count,
        'migration_calls_per_guest': migration / moved if moved else None,
        'polls_per_guest': methods['task.get_status'] / moved
        if moved else None,
        'methods_mean': {m: n / count for m, n in sorted(methods.items())},
    }


def per_guest(operations, calls):
    """ms and XenAPI calls each guest adds to an operation: the difference
    to the same operation with no guest, divided by G."""
    result = {}
    for op, c in calls.items():
        name, _, guests = op.rpartition(', G=')
        guests = int(guests)
        base = label(name, 0)
        if not guests or base not in operations or not c:
            continue
        result[op] = {
            'ms_per_guest': (operations[op]['median_ms'] -
                             operations[base]['median_ms']) / guests,
            'calls_per_guest': (c['calls_mean'] -
                                calls[base]['calls_mean']) / guests,
        }
    return result
