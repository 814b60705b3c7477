"""os-rolling-maintenance: every host of a pool aggregate through
maintenance in turn, as a task a runner executes (api-contract §14).
Handlers parse, authorize, call the RollingMaintenance manager and render;
the rules live in the manager, the execution in the task runner."""

import re

from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api.schemas import rolling_maintenance as schemas
from nova_aggregates.api import validation
from nova_aggregates.api.views import aggregates as aggregate_views
from nova_aggregates.api import wsgi
from nova_aggregates import policy
from nova_aggregates.policies import rolling_maintenance as rules

ROUTES = (
    ('/os-rolling-maintenance', {'GET': 'index', 'POST': 'create'}),
    ('/os-rolling-maintenance/{id}', {'GET': 'show', 'DELETE': 'delete'}),
    ('/os-rolling-maintenance/{id}/action', {'POST': 'action'}),
)

_ID = re.compile(r'^[1-9][0-9]{0,9}$')
_MAX_ID = 2 ** 31 - 1


def _task_id(value):
    if not _ID.match(value) or int(value) > _MAX_ID:
        raise faults.APIError(404, 'Rolling maintenance task %s could not be '
                              'found.' % wsgi.printable_for_message(
                                  value[:64]))
    return int(value)


def task_view(task):
    stamp = aggregate_views.timestamp
    return dict(task, created_at=stamp(task['created_at']),
                updated_at=stamp(task['updated_at']),
                hosts=[dict(host, started_at=stamp(host['started_at']),
                            finished_at=stamp(host['finished_at']))
                       for host in task['hosts']])


def _location(req, task_id):
    """The task's URL on the surface the request came in on."""
    base = req.path_url
    for suffix in ('.json', '.xml'):
        if base.endswith(suffix):
            base = base[:-len(suffix)]
    return '%s/%d' % (base, task_id)


def _render(req, body, status):
    response = wsgi.render(req, body)
    response.status = status
    return response


class RollingMaintenanceController:

    def __init__(self, manager):
        self.manager = manager

    def index(self, req):
        policy.authorize(req.context, rules.INDEX)
        return {'rolling_maintenances': [
            task_view(task) for task in self.manager.list_tasks(req.context)]}

    def show(self, req, id):
        policy.authorize(req.context, rules.SHOW)
        return {'rolling_maintenance': task_view(
            self.manager.get_task(req.context, _task_id(id)))}

    def create(self, req, body):
        policy.authorize(req.context, rules.CREATE)
        if req.is_legacy() and isinstance(body, dict) and isinstance(
                body.get('rolling_maintenance'), dict):
            body = {'rolling_maintenance': self._from_xml(
                body['rolling_maintenance'])}
        validation.validate(schemas.create, body)
        values = body['rolling_maintenance']
        task = self.manager.create_task(
            req.context, int(values['aggregate_id']), values.get('hosts'),
            values.get('host_action', 'none'))
        response = _render(req, {'rolling_maintenance': task_view(task)},
                           202)
        response.headers['Location'] = _location(req, task['id'])
        return response

    @staticmethod
    def _from_xml(values):
        """The 2012 XML form of ``hosts``, ``<hosts><host>a</host>...``,
        as the JSON list (a JSON body passes through unchanged)."""
        hosts = values.get('hosts')
        if isinstance(hosts, dict) and list(hosts) == ['host']:
            names = hosts['host']
            values = dict(values, hosts=list(names) if isinstance(
                names, list) else [names])
        return values

    def delete(self, req, id):
        policy.authorize(req.context, rules.DELETE)
        self.manager.cancel_task(req.context, _task_id(id))
        response = wsgi.empty_response(202)
        return response

    def action(self, req, id, body):
        if not isinstance(body, dict) or list(body) != ['resume']:
            raise faults.APIError(400, 'A rolling maintenance action body '
                                  'must be {"resume": null}.')
        policy.authorize(req.context, rules.RESUME)
        task_id = _task_id(id)
        if req.is_legacy() and body['resume'] == '':
            body = {'resume': None}  # <resume/>
        validation.validate(schemas.resume, body)
        task = self.manager.resume_task(req.context, task_id)
        return _render(req, {'rolling_maintenance': task_view(task)}, 202)


class RollingMaintenance(extension_framework.ExtensionDescriptor):
    """Rolling maintenance of pool aggregates, host after host"""

    name = 'RollingMaintenance'
    alias = 'os-rolling-maintenance'
    namespace = ('http://docs.openstack.org/compute/ext/rolling-maintenance/'
                 'api/v2.1')
    updated = '2026-12-01T00:00:00+00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, RollingMaintenanceController(
                services.rolling_maintenance))]
