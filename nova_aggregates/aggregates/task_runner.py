"""The task runner of rolling maintenance (api-contract §14): claims queued
tasks, and tasks whose runner is gone, and executes them host after host.

Each run of a task is a TaskFlow linear flow of atoms, three per host in
the task's order -- ``evacuate`` (enter maintenance), ``act`` (the host
action), ``restore`` (leave maintenance, guests migrated back) -- persisted
by TaskFlow's SQLAlchemy backend in our database: TaskFlow records each
atom before and after it runs, and a flow loaded again skips the atoms that
finished and runs again the one that was interrupted.  Every step is
written so that running it again after an interruption is safe (entering
maintenance of a host in maintenance does nothing; an interrupted pool
operation is reconciled first).  Our own rows (``db.rolling_task_*``) say
what the API shows: each host's state, message, guests moved.

Claiming: a task is run by whoever holds its tooz lock
(``nova-aggregates.rolling-maintenance.<id>``, ``coordination``), and its
row names that runner (``owner``) and when it last renewed its claim
(``heartbeat_at``, every third of ``[maintenance] task_lease_seconds``).
A runner looks at a running task of another only once that claim is older
than the lease, and takes it only if it gets the lock, which a live runner
holds: two runners never run one task, and a task whose runner died
(SIGKILL, node lost) is taken over after its lease expired, from its last
finished step.

A failure stops the task (``failed``; the host's message says why); the
flow's revert does nothing (finished hosts stay finished).  Resuming or
cancelling is a change of the row (``rolling_maintenance``); the runner
reads it between hosts.
"""

import contextlib
import datetime
import logging
import os
import shlex
import signal
import subprocess
import threading
import uuid

from taskflow import engines as taskflow_engines
from taskflow import exceptions as taskflow_exc
from taskflow.patterns import linear_flow
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence import models as taskflow_models
from taskflow import states as taskflow_states
from taskflow import task as taskflow_task

from nova_aggregates.aggregates import rolling_maintenance
from nova_aggregates import constants
from nova_aggregates import context as na_context
from nova_aggregates import coordination
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates.virt import driver as virt_driver

LOG = logging.getLogger(__name__)

EVACUATE = 'evacuate'
ACT = 'act'
RESTORE = 'restore'
#: The host state each step records while it runs.
STEP_STATES = {EVACUATE: constants.TASK_HOST_EVACUATING,
               ACT: constants.TASK_HOST_ACTING,
               RESTORE: constants.TASK_HOST_RESTORING}
#: Where a host resumes, by the last step it began.
RESUME_FROM = {None: (EVACUATE, ACT, RESTORE),
               constants.TASK_HOST_EVACUATING: (EVACUATE, ACT, RESTORE),
               constants.TASK_HOST_ACTING: (ACT, RESTORE),
               constants.TASK_HOST_RESTORING: (RESTORE,)}
#: The characters of a command's output kept in the host's message.
OUTPUT_TAIL = 2000
#: What TaskFlow's storage raises for a logbook or flow it lacks.
_TASKFLOW_MISSING = (taskflow_exc.NotFound, taskflow_exc.StorageFailure)


def task_lock_name(task_id):
    return 'nova-aggregates.rolling-maintenance.%d' % task_id


class _Stop(Exception):
    """Ends a run without failing the task: cancelled, or no longer ours."""

    def __init__(self, cancelled):
        super().__init__('cancelled' if cancelled else 'claim lost')
        self.cancelled = cancelled


class _HostFailed(Exception):
    """A host's step failed; its row already says so."""


class _Atom(taskflow_task.Task):
    """One step of one host.  ``revert`` does nothing: a failure stops the
    task where it is, and a finished host stays finished."""

    def __init__(self, run, position, host, step):
        super().__init__(name='%d:%s:%s' % (position, host, step))
        self.run, self.position, self.host, self.step = \
            run, position, host, step

    def execute(self):
        self.run.step(self.position, self.host, self.step)

    def revert(self, *args, **kwargs):
        pass


class _Run:
    """This runner's execution of one claimed task."""

    def __init__(self, runner, task, lock):
        self.runner = runner
        self.services = runner.services
        self.conf = runner.conf
        self.task_id = task['id']
        self.aggregate_id = task['aggregate_id']
        self.host_action = task['host_action']
        self.owner = runner.member
        self.lock = lock
        self.context = na_context.get_admin_context()
        # Its own pool operations pass the aggregate's task check.
        self.context.rolling_task_id = self.task_id
        self.engine = None
        self.lost = threading.Event()
        self.done = threading.Event()

    # -- the run ----------------------------------------------------------------

    def execute(self):
        heartbeat = threading.Thread(target=self._heartbeat, daemon=True,
                                     name='rolling-task-%d-heartbeat' %
                                     self.task_id)
        heartbeat.start()
        try:
            self._execute()
        except Exception:  # noqa: B902 - a runner thread must not die
            LOG.exception('Rolling maintenance task %d: the runner failed',
                          self.task_id)
        finally:
            self.done.set()
            heartbeat.join()
            with contextlib.suppress(Exception):
                self.lock.release()

    def _execute(self):
        # A pool operation of this task that a dead runner left "changing"
        # is put right first (its owner's member lock is free).
        self.services.recovery.reconcile_interrupted(self.context)
        task = db.rolling_task_get(self.context, self.task_id)
        book, flow_detail, fresh = self._flow_detail(task)
        if fresh:
            self._notify('start', task)
        flow = linear_flow.Flow('rolling-maintenance-%d' % self.task_id)
        for position, host, step in flow_detail.meta['plan']:
            flow.add(_Atom(self, position, host, step))
        self.engine = taskflow_engines.load(
            flow, flow_detail=flow_detail, book=book,
            backend=self.runner.backend, engine='serial')
        if self.runner.stopping.is_set():
            return
        try:
            self.engine.run()
        except _Stop as stop:
            if stop.cancelled:
                self._end(constants.TASK_CANCELLED)
            return
        except _HostFailed:
            self._end(constants.TASK_FAILED)
            return
        except Exception as exc:  # noqa: B902 - anything else stops too
            self._unexpected(exc)
            return
        if self.engine.storage.get_flow_state() == taskflow_states.SUSPENDED:
            # The runner stops: the task stays claimed until its lease
            # expires, then a runner continues it from this atom.
            LOG.info('Rolling maintenance task %d suspended (runner '
                     'stopping)', self.task_id)
            return
        self._end(constants.TASK_SUCCEEDED)

    def _flow_detail(self, task):
        """The TaskFlow logbook and flow detail of this run: those of an
        interrupted run, or new ones planned from the hosts' rows."""
        with contextlib.closing(self.runner.backend.get_connection()) as conn:
            if task['logbook_uuid'] and task['flow_uuid']:
                try:
                    book = conn.get_logbook(task['logbook_uuid'])
                    flow_detail = book.find(task['flow_uuid'])
                    # An interrupted run continues; one that ended (its
                    # runner failed outside a step) is planned again from
                    # the hosts' rows.
                    if flow_detail is not None and flow_detail.state in (
                            None, taskflow_states.PENDING,
                            taskflow_states.RUNNING,
                            taskflow_states.SUSPENDED,
                            taskflow_states.RESUMING):
                        return book, flow_detail, False
                except _TASKFLOW_MISSING:
                    pass
            plan = []
            for host in task['hosts']:
                if host['state'] == constants.TASK_HOST_DONE:
                    continue
                for step in RESUME_FROM[host['step']]:
                    plan.append((host['position'], host['host'], step))
            book = taskflow_models.LogBook('rolling-maintenance-%d' %
                                           self.task_id)
            flow_detail = taskflow_models.FlowDetail(
                'rolling-maintenance-%d' % self.task_id,
                uuid=str(uuid.uuid4()))
            flow_detail.meta = {'plan': plan}
            book.add(flow_detail)
            conn.save_logbook(book)
        self._record(logbook_uuid=book.uuid, flow_uuid=flow_detail.uuid)
        fresh = all(h['state'] == constants.TASK_HOST_PENDING
                    for h in task['hosts'])
        return book, flow_detail, fresh

    def _unexpected(self, exc):
        """A failure outside the hypervisor's answers (a lost database, a
        bug): the host in progress and the task are failed, resumable.  If
        even that cannot be written, the claim lapses and a runner takes
        the task over after its lease, as after a crash."""
        LOG.exception('Rolling maintenance task %d stopped by an unexpected '
                      'error', self.task_id)
        try:
            task = db.rolling_task_get(self.context, self.task_id)
            for host in task['hosts']:
                if host['state'] in STEP_STATES.values():
                    db.rolling_task_host_update(
                        self.context, self.task_id, host['position'],
                        state=constants.TASK_HOST_FAILED,
                        finished_at=db.now(),
                        message='Unexpected error: %s' % exc)
                    break
            self._end(constants.TASK_FAILED,
                      error='Unexpected error: %s' % exc)
        except Exception as record_exc:  # noqa: B902 - the lease decides
            LOG.error('Rolling maintenance task %d: cannot record the '
                      'failure (%s); it is taken over once its lease '
                      'expires', self.task_id, record_exc)

    def _end(self, state, error=None):
        task = db.rolling_task_get(self.context, self.task_id)
        if not self._record(state=state, owner=None, heartbeat_at=None,
                            logbook_uuid=None, flow_uuid=None):
            return
        if task['logbook_uuid']:
            with contextlib.closing(
                    self.runner.backend.get_connection()) as conn:
                with contextlib.suppress(*_TASKFLOW_MISSING):
                    conn.destroy_logbook(task['logbook_uuid'])
        LOG.info('Rolling maintenance task %d of aggregate %s %s',
                 self.task_id, self.aggregate_id, state)
        if state != constants.TASK_FAILED:
            self._notify('end', task, state=state)
            return
        if error is None:
            failed = [h for h in task['hosts']
                      if h['state'] == constants.TASK_HOST_FAILED]
            if failed:
                error = 'Host %s failed: %s' % (failed[-1]['host'],
                                                failed[-1]['message'])
        self._notify('error', task, state=state, error=error)

    def _record(self, **values):
        """Write task columns while the task is still ours."""
        if db.rolling_task_update(self.context, self.task_id,
                                  expect_owner=self.owner, **values):
            return True
        self.lost.set()
        return False

    def _heartbeat(self):
        interval = self.conf.maintenance.task_lease_seconds / 3.0
        while not self.done.wait(interval):
            try:
                if not db.rolling_task_update(
                        self.context, self.task_id, expect_owner=self.owner,
                        heartbeat_at=db.now()):
                    LOG.error('Rolling maintenance task %d was taken over '
                              'by another runner; this one stops',
                              self.task_id)
                    self.lost.set()
                    return
            except Exception as exc:  # noqa: B902 - try again next beat
                LOG.warning('Rolling maintenance task %d: cannot renew the '
                            'claim: %s', self.task_id, exc)

    def suspend(self):
        if self.engine is not None:
            self.engine.suspend()

    # -- one step of one host ---------------------------------------------------

    def step(self, position, host, step):
        task = db.rolling_task_get(self.context, self.task_id)
        if self.lost.is_set() or task['owner'] != self.owner:
            raise _Stop(cancelled=False)
        row = task['hosts'][position]
        if row['state'] == constants.TASK_HOST_DONE:
            return  # finished in an earlier run: never done again
        if step == EVACUATE and task['state'] == constants.TASK_CANCELLING:
            raise _Stop(cancelled=True)
        values = {'state': STEP_STATES[step], 'step': STEP_STATES[step]}
        if row['started_at'] is None:
            values['started_at'] = db.now()
        db.rolling_task_host_update(self.context, self.task_id, position,
                                    **values)
        try:
            outcome = getattr(self, '_' + step)(host)
        except exception.AggregatesException as exc:
            self._host_failed(task, row, exc)
            raise _HostFailed() from exc
        values = {}
        if step == EVACUATE:
            values['guests_moved'] = row['guests_moved'] + len(outcome)
        elif step == ACT:
            values['message'] = outcome
        else:
            values.update(state=constants.TASK_HOST_DONE,
                          finished_at=db.now())
            if outcome:
                values['message'] = _join(row['message'], outcome)
        db.rolling_task_host_update(self.context, self.task_id, position,
                                    **values)
        if step == RESTORE:
            self._notify_host(task, dict(row, **values))

    def _host_failed(self, task, row, exc):
        message = str(exc)
        values = {'state': constants.TASK_HOST_FAILED,
                  'finished_at': db.now(), 'message': message[:65000]}
        moved = getattr(exc, 'moved', None)
        if moved:
            values['guests_moved'] = row['guests_moved'] + len(moved)
        db.rolling_task_host_update(self.context, self.task_id,
                                    row['position'], **values)
        LOG.error('Rolling maintenance task %d: host %s failed: %s',
                  self.task_id, row['host'], message)
        self._notify_host(task, dict(row, **values))

    def _evacuate(self, host):
        result = self.services.host_maintenance.enter(self.context, host)
        return result['evacuated']

    def _act(self, host):
        """The host action; a message for the host (None for none)."""
        if self.host_action == 'none':
            return None
        row = db.compute_host_get(self.context, host)
        compute_host = virt_driver.ComputeHost(
            name=row['name'], hypervisor_url=row['hypervisor_url'])
        if self.host_action == 'reboot':
            pool = self.services.host_maintenance.pool_of(self.context, host)
            self.services.aggregates.driver.reboot_host(
                pool, compute_host, self.conf.maintenance.reboot_timeout)
            return None
        return self._command(compute_host)

    def _command(self, host):
        opts = self.conf.maintenance
        argv = shlex.split(opts.host_command or '')
        if not argv:
            raise exception.HostActionFailed(
                reason='host_action "command" needs [maintenance] '
                       'host_command, which is not set')
        env = dict(os.environ, HOST=host.name,
                   HYPERVISOR_URL=host.hypervisor_url or '',
                   AGGREGATE=str(self.aggregate_id))
        try:
            process = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True)
        except OSError as exc:
            raise exception.HostActionFailed(
                reason='host command %s cannot be run: %s' % (argv[0], exc))
        try:
            output, _ = process.communicate(
                timeout=opts.host_command_timeout)
        except subprocess.TimeoutExpired:
            # Its whole process group: a shell script's children too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise exception.HostActionFailed(reason=(
                'host command timed out after %g s and was killed; output: '
                '%s' % (opts.host_command_timeout, _tail(output))))
        if process.returncode != 0:
            raise exception.HostActionFailed(reason=(
                'host command exited with status %d; output: %s' % (
                    process.returncode, _tail(output))))
        return _tail(output) or None

    def _restore(self, host):
        """Leave maintenance; a message naming guests not moved back."""
        result = self.services.host_maintenance.leave(self.context, host)
        skipped = result.get('skipped') or []
        if not skipped:
            return None
        return 'Not moved back: %s.' % '; '.join(
            '%s (%s): %s' % (s['name'], s['vm'], s['reason'])
            for s in skipped)

    def _notify(self, phase, task, hosts=None, **fields):
        """rolling_maintenance.<phase> of this task: ``task`` as last read,
        ``hosts`` its host rows when newer ones are at hand."""
        fields.setdefault('state', task['state'])
        self.runner.notifier.rolling_maintenance(
            self.context, phase, task_id=self.task_id,
            aggregate_id=self.aggregate_id, host_action=self.host_action,
            hosts=[_host_entry(h) for h in hosts or task['hosts']], **fields)

    def _notify_host(self, task, row):
        """rolling_maintenance.host: the host of ``row`` (as just written)
        finished or failed."""
        hosts = [row if h['position'] == row['position'] else h
                 for h in task['hosts']]
        self._notify('host', task, hosts=hosts, host=_host_entry(row))


def _host_entry(row):
    """A host of a task as the API shows it."""
    return {field: row[field] for field in rolling_maintenance.HOST_FIELDS}


def _tail(output):
    text = (output or b'').decode('utf-8', 'replace').strip()
    return text[-OUTPUT_TAIL:]


def _join(first, second):
    return second if not first else '%s %s' % (first, second)


class TaskRunner:
    """Claims and runs rolling maintenance tasks (see the module
    docstring).  ``start`` runs it in a thread of its own, looking every
    ``[maintenance] task_poll_interval`` seconds; ``run_once`` is one look
    (tests, ``nova-aggregates-manage maintenance runner``)."""

    def __init__(self, conf, services, notifier):
        self.conf = conf
        self.services = services
        self.notifier = notifier
        self.backend = impl_sqlalchemy.SQLAlchemyBackend(
            {'connection': 'nova-aggregates'}, engine=db.get_engine())
        self.stopping = threading.Event()
        self._thread = None
        self._runs = {}
        self._guard = threading.Lock()

    @property
    def member(self):
        return coordination.get(self.conf).member()

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='rolling-maintenance-runner')
        self._thread.start()

    def stop(self, timeout=None):
        """Stop looking; runs in progress suspend after their current step
        (within ``timeout`` seconds, if given)."""
        self.stopping.set()
        with self._guard:
            runs = list(self._runs.values())
        for run, _ in runs:
            run.suspend()
        for _, thread in runs:
            thread.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout=None):
        """Wait for the runs in progress to end."""
        with self._guard:
            threads = [thread for _, thread in self._runs.values()]
        for thread in threads:
            thread.join(timeout)

    def _loop(self):
        while not self.stopping.wait(self.conf.maintenance.task_poll_interval):
            try:
                self.run_once()
            except Exception as exc:  # noqa: B902 - look again later
                LOG.warning('Rolling maintenance runner: %s', exc)

    def run_once(self, wait=False):
        """Claim every task this runner may take and run each in a thread
        of its own; the ids claimed.  ``wait``: return once they ended."""
        ctx = na_context.get_admin_context()
        claimed = []
        for task in db.rolling_task_get_all(
                ctx, states=constants.TASK_ACTIVE_STATES):
            with self._guard:
                if task['id'] in self._runs:
                    continue
            run = self._claim(ctx, task)
            if run is None:
                continue
            thread = threading.Thread(target=self._execute, args=(run,),
                                      daemon=True, name='rolling-task-%d' %
                                      task['id'])
            with self._guard:
                self._runs[task['id']] = (run, thread)
            thread.start()
            claimed.append(task['id'])
        if wait:
            with self._guard:
                threads = [t for run_id, (_, t) in self._runs.items()
                           if run_id in claimed]
            for thread in threads:
                thread.join()
        return claimed

    def _execute(self, run):
        try:
            run.execute()
        finally:
            with self._guard:
                self._runs.pop(run.task_id, None)

    def _claim(self, ctx, task):
        if self.stopping.is_set() or not self._claimable(task):
            return None
        lock = coordination.get(self.conf).try_lock(
            task_lock_name(task['id']))
        if lock is None:
            return None
        # Ours while we hold the lock; the row may have moved meanwhile.
        if not db.rolling_task_claim(ctx, task['id'], task['owner'],
                                     self.member):
            lock.release()
            return None
        task = db.rolling_task_get(ctx, task['id'])
        LOG.info('Rolling maintenance task %d of aggregate %s claimed by %s',
                 task['id'], task['aggregate_id'], self.member)
        return _Run(self, task, lock)

    def _claimable(self, task):
        """Worth trying the lock: queued, or its claim older than the
        lease (a live runner renews it three times per lease)."""
        if task['owner'] is None:
            return True
        if task['heartbeat_at'] is None:
            return True
        age = db.now() - task['heartbeat_at']
        return age > datetime.timedelta(
            seconds=self.conf.maintenance.task_lease_seconds)
