"""os-services: compute hosts as nova-compute services (modern shape), and
enabling or disabling them, which is the host's status (os-hosts)."""

from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api.schemas import hosts as schemas
from nova_aggregates.api import validation
from nova_aggregates.api.views import aggregates as views
from nova_aggregates import policy
from nova_aggregates.policies import hosts as host_rules

ROUTES = (
    ('/os-services', {'GET': 'index'}),
    ('/os-services/{service_id}', {'PUT': 'update'}),
)

BINARY = 'nova-compute'


def service_view(host):
    return {
        'id': host['id'], 'binary': BINARY, 'host': host['name'],
        'zone': host['zone'], 'status': host['status'], 'state': 'up',
        'updated_at': views.timestamp(host['updated_at'] or
                                      host['created_at']),
        'disabled_reason': host['disabled_reason'],
    }


class ServicesController:

    def __init__(self, compute_hosts, maintenance):
        self.compute_hosts = compute_hosts
        self.maintenance = maintenance

    def index(self, req):
        policy.authorize(req.context, host_rules.SERVICES_LIST)
        binary = req.GET.get('binary')
        host_filter = req.GET.get('host')
        if binary not in (None, BINARY):
            return {'services': []}
        return {'services': [
            service_view(host) for host in self.compute_hosts.list(req.context)
            if host_filter is None or host['name'] == host_filter]}

    def update(self, req, service_id, body):
        """``PUT os-services/enable|disable|disable-log-reason`` (the 2.1
        actions, by host) and ``PUT os-services/{id}`` (2.53, by id)."""
        policy.authorize(req.context, host_rules.SERVICES_UPDATE)
        if service_id in ('enable', 'disable'):
            validation.validate(schemas.service_action, body)
            self._set(req, body['host'], service_id == 'enable')
            return {'service': {'host': body['host'], 'binary': BINARY,
                                'status': service_id + 'd'}}
        if service_id == 'disable-log-reason':
            validation.validate(schemas.service_disable_log_reason, body)
            self._set(req, body['host'], False, body['disabled_reason'])
            return {'service': {'host': body['host'], 'binary': BINARY,
                                'status': 'disabled',
                                'disabled_reason': body['disabled_reason']}}
        host = self._by_id(req, service_id)
        validation.validate(schemas.service_update, body)
        if 'disabled_reason' in body and body.get('status') != 'disabled':
            raise faults.APIError(400, 'disabled_reason goes with "status": '
                                       '"disabled".')
        if body.get('forced_down'):
            raise faults.APIError(400, 'forced_down is not supported: the '
                                       'state of a compute host is its '
                                       'hypervisor\'s.')
        if 'status' in body:
            self._set(req, host['name'], body['status'] == 'enabled',
                      body.get('disabled_reason'))
        return {'service': service_view(self._by_id(req, service_id))}

    def _set(self, req, host, enabled, reason=None):
        self.maintenance.set_status(req.context, host, enabled, reason)

    def _by_id(self, req, service_id):
        for host in self.compute_hosts.list(req.context):
            if str(host['id']) == service_id:
                return host
        raise faults.APIError(404, 'Service %s could not be found.'
                              % service_id)


class Services(extension_framework.ExtensionDescriptor):
    """Services support"""

    name = 'Services'
    alias = 'os-services'
    namespace = 'http://docs.openstack.org/compute/ext/services/api/v2'
    updated = '2012-10-28T00:00:00-00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, ServicesController(services.compute_hosts,
                                       services.host_maintenance))]
