"""Placement mirroring: every aggregate's uuid on the resource provider of
each member host (by host name), as Nova keeps it, so that Nova's
scheduler pre-filters see our aggregates (api-contract §16).

Nova changes Placement after its own database and only logs a failure, so
the two drift apart.  Here a membership change goes:

1. **before anything changes**, ``providers()`` asks Placement for the
   providers of the hosts (``holders()`` for a delete): a Placement that
   cannot be reached, or errs, fails the request with nothing changed
   (503/502);
2. the transaction that changes the membership (in the database, after the
   hypervisor for pool aggregates) records a **step** per host
   (``queue()``, table ``placement_mirror_steps``), so no change can be
   recorded without its step, whatever fails after;
3. after the commit, ``run()`` makes Placement match.  A step that fails
   stays, is shown in the aggregate's metadata
   (``placement_mirror:<host>``), and is retried every ``[placement]
   retry_interval`` seconds by each API worker (``Retrier``), and by
   ``nova-aggregates-manage placement sync``.

A step carries no direction: what Placement must show is read from the
database when the step runs, so steps can run late, twice, or out of order.
Each attempt reads the provider (aggregates and generation) *before* the
database and always writes back with that generation: a concurrent writer
that read the database earlier than we did either wrote before our read,
or makes our write fail with a generation conflict, after which we read
both again.  A step is forgotten only at the version it ran for.
"""

import collections
import contextlib
import dataclasses
import datetime
import logging
import threading

from nova_aggregates import constants
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates import placement_client

LOG = logging.getLogger(__name__)

#: Metadata values are at most 255 characters.
_MARKER_LIMIT = 255
#: A step's provider not known yet: ``_run_step`` asks Placement.
_LOOK_UP = object()


@contextlib.contextmanager
def _nothing_changed():
    """A Placement failure before the change: the answer says that nothing
    was changed."""
    try:
        yield
    except (exception.PlacementUnavailable,
            exception.PlacementFailed) as exc:
        raise type(exc)(message='%s; nothing was changed: try again once '
                        'Placement answers.' % exc)


def marker_key(host):
    return constants.PLACEMENT_MIRROR_PREFIX + host


class NoMirror:
    """Mirroring off (``[placement] mirror_aggregates = false``): Placement
    is never called."""

    enabled = False

    def providers(self, hosts):
        return {}

    def holders(self, aggregate_uuid):
        return {}

    def queue(self, context, agg, hosts):
        pass

    def run(self, context, aggregate_uuid, hosts, providers=None):
        return True


class PlacementMirror:

    enabled = True

    def __init__(self, conf, client=None):
        self.conf = conf
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def client(self):
        # Built on first use: loading the auth plugin may read files.
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = placement_client.PlacementClient(
                        self.conf)
        return self._client

    # -- before a change ----------------------------------------------------

    def providers(self, hosts):
        """``{host: provider uuid or None}``; raises PlacementUnavailable or
        PlacementFailed, so that the caller changes nothing."""
        with _nothing_changed():
            return {host: self.client.provider_uuid(host) for host in hosts}

    def holders(self, aggregate_uuid):
        """The providers that carry ``aggregate_uuid`` (what a delete must
        clear), ``{name: uuid}``; raises like ``providers``."""
        with _nothing_changed():
            return self.client.providers_in(aggregate_uuid)

    # -- in the change's transaction ------------------------------------------

    def queue(self, context, agg, hosts):
        """Steps for ``hosts`` (in the change's transaction).  The caller
        runs them after the commit; retries come only after that would have
        failed (``[placement] retry_interval``)."""
        if hosts:
            db.placement_step_queue(context, agg['id'], agg['uuid'], hosts,
                                    self._next_attempt())

    # -- after the commit -----------------------------------------------------

    def run(self, context, aggregate_uuid, hosts, providers=None):
        """Run the steps of ``hosts`` of the aggregate; a step that fails
        is recorded and shown, never raised (the change is done).  Whether
        every one succeeded."""
        providers = providers or {}
        succeeded = True
        for host in hosts:
            step = db.placement_step_get(context, aggregate_uuid, host)
            if step is not None:
                succeeded &= self._run_step(
                    context, step, providers.get(host, _LOOK_UP))
        return succeeded

    def retry_due(self, context, everything=False):
        """Run the steps that are due (``everything``: all of them); the
        number that succeeded."""
        steps = db.placement_steps_all(context) if everything else \
            db.placement_steps_due(context)
        done = 0
        for step in steps:
            # One process per attempt: the others skip the step.
            if not db.placement_step_claim(context, step,
                                           self._next_attempt()):
                continue
            done += self._run_step(context, step)
        return done

    def _next_attempt(self):
        return db.now() + datetime.timedelta(
            seconds=self.conf.placement.retry_interval)

    def _run_step(self, context, step, provider=_LOOK_UP):
        """One attempt at ``step`` onto ``provider`` (a uuid; None: the host
        has none; by default looked up); whether Placement now matches."""
        host = step['host']
        try:
            if provider is _LOOK_UP:
                provider = self.client.provider_uuid(host)
            if provider is None:
                self._no_provider(context, step)
            else:
                self._mirror(context, step, provider)
            return True
        except Exception as exc:
            if not isinstance(exc, exception.AggregatesException):
                LOG.exception('Mirroring aggregate %s on host %s into '
                              'Placement failed unexpectedly',
                              step['aggregate_uuid'], host)
            self._failed(context, step, exc)
            return False

    def _mirror(self, context, step, provider):
        uuid, host = step['aggregate_uuid'], step['host']
        attempts = self.conf.placement.generation_conflict_retries + 1
        for _ in range(attempts):
            # The provider first, then the database (module docstring).
            actual, generation = self.client.aggregates(provider)
            current = db.placement_step_get(context, uuid, host)
            if current is None:
                return  # another process finished it
            agg = _aggregate_of(context, current)
            member = agg is not None and host in agg['hosts']
            wanted = actual | {uuid} if member else actual - {uuid}
            if self.client.put_aggregates(provider, wanted, generation):
                if db.placement_step_done(context, uuid, host,
                                          current['version']):
                    _clear_marker(context, agg, host)
                return
        raise exception.PlacementConflict(provider=host, attempts=attempts)

    def _no_provider(self, context, step):
        # Nothing to mirror onto: a host whose nova-compute never reported
        # to Placement.  ``placement sync`` names it.
        LOG.warning('Host %s has no resource provider in Placement: its '
                    'membership of aggregate %s is not mirrored.',
                    step['host'], step['aggregate_uuid'])
        if db.placement_step_done(context, step['aggregate_uuid'],
                                  step['host'], step['version']):
            _clear_marker(context, _aggregate_of(context, step),
                          step['host'])

    def _failed(self, context, step, exc):
        error = '%s: %s' % (type(exc).__name__, exc)
        LOG.warning('Placement does not yet show the membership of host %s '
                    'in aggregate %s (retried every %s s): %s', step['host'],
                    step['aggregate_uuid'],
                    self.conf.placement.retry_interval, error)
        try:
            db.placement_step_failed(context, step['aggregate_uuid'],
                                     step['host'], error,
                                     self._next_attempt())
            _set_marker(context, step, 'pending since %s: %s' % (
                step['queued_at'].isoformat(timespec='seconds'), error))
        except Exception:
            # The step is still in the table, due: it is retried anyway.
            LOG.exception('Cannot record the failed mirror step of host %s',
                          step['host'])

    # -- repair ----------------------------------------------------------------

    def sync(self, context, dry_run=False):
        """Compare every aggregate's members with Placement in both
        directions and (unless ``dry_run``) repair: a ``SyncReport``."""
        report = SyncReport(dry_run=dry_run)
        if not dry_run:
            # Steps that failed before are tried again first.
            self.retry_due(context, everything=True)
        aggs = db.aggregate_get_all(context)
        ours = {agg['uuid']: agg for agg in aggs}
        wanted = collections.defaultdict(set)
        for agg in aggs:
            for host in agg['hosts']:
                wanted[host].add(agg['uuid'])
        providers = self.client.providers()
        report.aggregates, report.hosts = len(aggs), len(wanted)
        for host in sorted(set(wanted) - set(providers)):
            report.unknown[host] = sorted(ours[u]['name'] for u in
                                          wanted[host])
        # Every provider: one that is no member may still carry our uuid.
        for host, provider in sorted(providers.items()):
            actual, _ = self.client.aggregates(provider)
            for uuid in sorted(wanted[host] - actual):
                report.drift.append(Drift('missing', host, ours[uuid]))
            for uuid in sorted((actual & set(ours)) - wanted[host]):
                report.drift.append(Drift('stale', host, ours[uuid]))
        if not dry_run:
            for drift in report.drift:
                agg = drift.aggregate
                self.queue(context, agg, [drift.host])
                self.run(context, agg['uuid'], [drift.host], providers)
        report.waiting = db.placement_steps_all(context)
        if not dry_run:
            waiting = {(s['aggregate_uuid'], s['host'])
                       for s in report.waiting}
            for drift in report.drift:
                drift.repaired = (drift.aggregate['uuid'],
                                  drift.host) not in waiting
        return report


@dataclasses.dataclass
class Drift:
    kind: str  # missing | stale
    host: str
    aggregate: dict
    repaired: bool = False

    def __str__(self):
        what = ('lacks aggregate' if self.kind == 'missing'
                else 'still has aggregate')
        return '%s: %s %s %s (%s)' % (
            self.kind, self.host, what, self.aggregate['name'],
            self.aggregate['uuid'])


@dataclasses.dataclass
class SyncReport:
    dry_run: bool
    aggregates: int = 0
    hosts: int = 0
    drift: list = dataclasses.field(default_factory=list)
    #: Member hosts with no resource provider: ``{host: [aggregate names]}``.
    unknown: dict = dataclasses.field(default_factory=dict)
    #: Steps still waiting after the run.
    waiting: list = dataclasses.field(default_factory=list)

    @property
    def remaining(self):
        """Drift left after the run: all of it on a dry run (with the steps
        waiting that it does not cover, e.g. of deleted aggregates),
        otherwise the steps still failing.  Hosts with no provider count
        either way."""
        if not self.dry_run:
            return len(self.waiting) + len(self.unknown)
        seen = {(d.aggregate['uuid'], d.host) for d in self.drift}
        return len(self.drift) + len(self.unknown) + sum(
            1 for s in self.waiting
            if (s['aggregate_uuid'], s['host']) not in seen)

    def lines(self):
        out = ['Compared %d aggregates on %d member hosts with Placement.'
               % (self.aggregates, self.hosts)]
        for drift in self.drift:
            if self.dry_run:
                out.append('%s (would repair)' % drift)
            else:
                out.append('%s: %s' % (drift, 'repaired' if drift.repaired
                                       else 'NOT repaired'))
        for host, names in sorted(self.unknown.items()):
            out.append('unknown resource provider: %s (member of %s)' % (
                host, ', '.join(names)))
        for step in self.waiting:
            out.append('waiting: host %s, aggregate %s, %d attempts: %s' % (
                step['host'], step['aggregate_uuid'], step['attempts'],
                step['last_error'] or 'not tried yet'))
        if not self.drift and not self.unknown and not self.waiting:
            out.append('No drift: Placement matches.')
        else:
            out.append('Drift remaining: %d.' % self.remaining)
        return out


def _aggregate_of(context, step):
    """The aggregate of ``step`` as it is now, or None once deleted (its id
    may have been given to another aggregate since)."""
    try:
        agg = db.aggregate_get(context, step['aggregate_id'])
    except exception.AggregateNotFound:
        return None
    return agg if agg['uuid'] == step['aggregate_uuid'] else None


@db.transaction
def _set_marker(context, step, text):
    try:
        agg = db.lock_aggregate(context, step['aggregate_id'])
    except exception.AggregateNotFound:
        return
    if agg['uuid'] == step['aggregate_uuid']:
        db.aggregate_metadata_update(context, agg['id'], {
            marker_key(step['host']): text[:_MARKER_LIMIT]})


def _clear_marker(context, agg, host):
    if agg is not None and marker_key(host) in agg['metadata']:
        _remove_marker(context, agg['id'], host)


@db.transaction
def _remove_marker(context, aggregate_id, host):
    try:
        db.lock_aggregate(context, aggregate_id)
    except exception.AggregateNotFound:
        return
    db.aggregate_metadata_update(context, aggregate_id, None,
                                 [marker_key(host)])


class Retrier:
    """Retries the due steps of this process's database every ``[placement]
    retry_interval`` seconds, in a thread of its own."""

    def __init__(self, conf, mirror, context_factory):
        self.conf = conf
        self.mirror = mirror
        self.context_factory = context_factory
        self.stopping = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name='placement-mirror-retrier',
                daemon=True)
            self._thread.start()

    def _loop(self):
        while not self.stopping.wait(self.conf.placement.retry_interval):
            try:
                self.mirror.retry_due(self.context_factory())
            except Exception:
                LOG.exception('Retrying Placement mirror steps failed')

    def stop(self, timeout=5):
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)


def mirror(conf):
    """The process's mirror: PlacementMirror when mirroring is on."""
    if conf.placement.mirror_aggregates:
        return PlacementMirror(conf)
    return NoMirror()
