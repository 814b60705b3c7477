"""Rolling maintenance of a pool aggregate (api-contract §14): the rules of
creating, cancelling and resuming a task.  Tasks are rows; the task runner
(``task_runner``) executes them, host after host.

The rules:

* only a pool aggregate with hosts has tasks; the hosts are all its
  members, or the subset ``hosts`` names, in that order, the pool master
  first whatever the order (its role is handed over before its
  evacuation, so the pool always has a master that answers);
* one active task (queued, running, cancelling) per aggregate, and none
  while a pool operation runs on it; while a task is active, no other pool
  operation may start on its aggregate (``pool_operation``);
* every host of a new task must be enabled and out of maintenance: a host
  an operator took out of service stays out of the task, or the task would
  take it back into service at its end;
* cancelling a queued task ends it at once; a running one stops after the
  host in progress (``cancelling``, then ``cancelled``);
* a failed or cancelled task resumes from the host that did not finish, at
  the step it did not finish.
"""

import shlex

from nova_aggregates import constants
from nova_aggregates.aggregates import pool_operation
from nova_aggregates.db import api as db
from nova_aggregates import exception

#: The contract's task and host fields, in order.
TASK_FIELDS = ('id', 'aggregate_id', 'state', 'host_action', 'created_at',
               'updated_at', 'hosts')
HOST_FIELDS = ('host', 'state', 'started_at', 'finished_at', 'guests_moved',
               'message')


def present(task):
    """The task as the API shows it (nothing of the runner's claim)."""
    shown = {field: task[field] for field in TASK_FIELDS if field != 'hosts'}
    shown['hosts'] = [{field: host[field] for field in HOST_FIELDS}
                      for host in task['hosts']]
    return shown


class RollingMaintenance:

    def __init__(self, conf, notifier):
        self.conf = conf
        self.notifier = notifier

    def list_tasks(self, context):
        return [present(task) for task in db.rolling_task_get_all(context)]

    def get_task(self, context, task_id):
        return present(db.rolling_task_get(context, task_id))

    def create_task(self, context, aggregate_id, hosts=None,
                    host_action='none'):
        if host_action == 'command' and not shlex.split(
                self.conf.maintenance.host_command or ''):
            raise exception.Invalid(reason='host_action "command" needs '
                                    '[maintenance] host_command, which is '
                                    'not set on this service')
        task_id = self._create(context, aggregate_id, hosts, host_action)
        return self.get_task(context, task_id)

    @db.transaction
    def _create(self, context, aggregate_id, hosts, host_action):
        # The aggregate's lock orders this against pool operations (which
        # take it before they look for an active task) and other creates.
        agg = db.lock_aggregate(context, aggregate_id)
        if not pool_operation.is_pool(agg):
            raise exception.Invalid(reason='aggregate %s is not a pool '
                                    'aggregate (metadata %s=%s): rolling '
                                    'maintenance needs a hypervisor pool' % (
                                        aggregate_id, constants.POOL_FLAG,
                                        constants.POOL_FLAG_VALUE))
        self._check_free(context, agg)
        order = self._order(agg, hosts)
        rows = db.lock_hosts(context, order)
        away = ['%s (%s)' % (name, 'in maintenance'
                             if rows[name]['maintenance'] ==
                             constants.ON_MAINTENANCE else 'disabled')
                for name in order
                if rows[name]['status'] != constants.HOST_ENABLED or
                rows[name]['maintenance'] != constants.OFF_MAINTENANCE]
        if away:
            raise exception.HostsOutOfService(hosts=', '.join(away),
                                              aggregate_id=aggregate_id)
        return db.rolling_task_create(context, aggregate_id, host_action,
                                      order)

    @staticmethod
    def _check_free(context, agg):
        """409 unless no pool operation and no other task holds ``agg``
        (locked by the caller)."""
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=agg['id'])
        active = db.rolling_task_active_of(context, agg['id'])
        if active is not None:
            raise exception.RollingMaintenanceInProgress(
                task_id=active, aggregate_id=agg['id'])

    @staticmethod
    def _order(agg, hosts):
        members = list(agg['hosts'])
        if not members:
            raise exception.Invalid(reason='aggregate %s has no hosts' %
                                    agg['id'])
        if hosts is None:
            chosen = sorted(members)
        else:
            unknown = [h for h in hosts if h not in members]
            if unknown:
                raise exception.Invalid(reason=(
                    'hosts: %s %s not a member of aggregate %s (members: '
                    '%s)' % (', '.join(unknown),
                             'is' if len(unknown) == 1 else 'are',
                             agg['id'], ', '.join(sorted(members)))))
            chosen = list(hosts)
        master = agg['metadata'].get(constants.MASTER)
        if master in chosen:
            chosen.remove(master)
            chosen.insert(0, master)
        return chosen

    def cancel_task(self, context, task_id):
        """Cancel: at once when queued, after the host in progress when
        running.  The task as it is afterwards."""
        self._cancel(context, task_id)
        return self.get_task(context, task_id)

    @db.transaction
    def _cancel(self, context, task_id):
        task = db.lock_rolling_task(context, task_id)
        state = task['state']
        if state == constants.TASK_QUEUED:
            db.rolling_task_update(context, task_id,
                                   state=constants.TASK_CANCELLED)
        elif state == constants.TASK_RUNNING:
            db.rolling_task_update(context, task_id,
                                   state=constants.TASK_CANCELLING)
        elif state != constants.TASK_CANCELLING:
            raise exception.RollingMaintenanceStateConflict(
                task_id=task_id, state=state, action='cancelled')

    def resume_task(self, context, task_id):
        """Queue a failed or cancelled task again; the runner continues from
        the host that did not finish."""
        self._resume(context, task_id)
        return self.get_task(context, task_id)

    @db.transaction
    def _resume(self, context, task_id):
        task = db.lock_rolling_task(context, task_id)
        if task['state'] not in constants.TASK_RESUMABLE_STATES:
            raise exception.RollingMaintenanceStateConflict(
                task_id=task_id, state=task['state'], action='resumed')
        agg = db.lock_aggregate(context, task['aggregate_id'])
        self._check_free(context, agg)
        missing = [h['host'] for h in task['hosts']
                   if h['state'] != constants.TASK_HOST_DONE and
                   h['host'] not in agg['hosts']]
        if missing:
            raise exception.Invalid(reason=(
                'hosts %s of task %s are no longer members of aggregate %s'
                % (', '.join(missing), task_id, agg['id'])))
        db.rolling_task_update(context, task_id, state=constants.TASK_QUEUED)
