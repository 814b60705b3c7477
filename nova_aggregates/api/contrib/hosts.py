"""os-hosts: the registered compute hosts (2012 shape), a host's status,
maintenance mode and resources, and their changes (api-contract §13)."""

from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api.schemas import hosts as schemas
from nova_aggregates.api import validation
from nova_aggregates import policy
from nova_aggregates.policies import hosts as host_rules

ROUTES = (
    ('/os-hosts', {'GET': 'index'}),
    ('/os-hosts/{host_name}', {'GET': 'show', 'PUT': 'update'}),
)


def resource_rows(host, resources):
    """The 2012 rows of ``GET os-hosts/{host}``: totals and current use."""
    return [
        {'resource': {'host': host, 'project': '(total)',
                      'cpu': resources.cpu, 'memory_mb': resources.memory_mb,
                      'disk_gb': resources.disk_gb}},
        {'resource': {'host': host, 'project': '(used_now)',
                      'cpu': resources.cpu,
                      'memory_mb': resources.memory_mb_used,
                      'disk_gb': resources.disk_gb_used}},
    ]


#: From 2.43 Nova has no os-hosts/{host} (its os-services replace it):
#: requests at that version get Nova's 404.
REMOVED_IN = (2, 43)


def _check_not_removed(req):
    if not req.is_legacy() and req.requested_version >= REMOVED_IN:
        raise faults.APIError(404, 'os-hosts/{host} is not available from '
                                   'microversion 2.43; use os-services.')


class HostsController:

    def __init__(self, compute_hosts, maintenance):
        self.compute_hosts = compute_hosts
        self.maintenance = maintenance

    def index(self, req):
        policy.authorize(req.context, host_rules.HOSTS_LIST)
        zone = req.GET.get('zone')
        return {'hosts': [
            {'host_name': host['name'], 'service': 'compute',
             'zone': host['zone'], 'status': host['status'],
             'maintenance_mode': host['maintenance']}
            for host in self.compute_hosts.list(req.context)
            if zone is None or host['zone'] == zone]}

    def show(self, req, host_name):
        _check_not_removed(req)
        policy.authorize(req.context, host_rules.HOSTS_SHOW)
        found = self.maintenance.describe(req.context, host_name)
        return {'host': resource_rows(found['host'], found['resources'])}

    def update(self, req, host_name, body):
        _check_not_removed(req)
        policy.authorize(req.context, host_rules.HOSTS_UPDATE)
        if req.is_legacy() and isinstance(body, dict) and \
                list(body) == ['updates']:
            # 2012 XML: <updates><status>disable</status></updates>.
            body = body['updates']
        validation.validate(schemas.host_update, body)
        mode, status = body.get('maintenance_mode'), body.get('status')
        if 'dry_run' in body and mode != 'enable':
            raise faults.APIError(400, 'dry_run goes with "maintenance_mode": '
                                       '"enable".')
        if 'restore' in body and mode != 'disable':
            raise faults.APIError(400, 'restore goes with "maintenance_mode": '
                                       '"disable".')
        if mode == 'enable' and status is not None:
            # Maintenance disables the host: "enable" contradicts it, and
            # "disable" is what it does anyway.
            raise faults.APIError(400, '"maintenance_mode": "enable" disables '
                                       'the host: give it without status.')
        if mode == 'enable':
            result = self.maintenance.enter(req.context, host_name,
                                            dry_run=body.get('dry_run', False))
        elif mode == 'disable':
            result = self.maintenance.leave(
                req.context, host_name,
                restore=body.get('restore', 'migrate-back') == 'migrate-back')
            if status == 'disable':
                # Out of maintenance, and kept out of service.
                result.update(self.maintenance.set_status(
                    req.context, host_name, False))
        else:
            result = self.maintenance.set_status(req.context, host_name,
                                                 status == 'enable')
        if req.wants_xml:
            return {'host': result}
        return result


class Hosts(extension_framework.ExtensionDescriptor):
    """Admin-only host listing"""

    name = 'Hosts'
    alias = 'os-hosts'
    namespace = 'http://docs.openstack.org/compute/ext/hosts/api/v1.1'
    updated = '2011-06-29T00:00:00+00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, HostsController(services.compute_hosts,
                                    services.host_maintenance))]
