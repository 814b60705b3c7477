"""os-services: compute hosts as nova-compute services (modern shape)."""

from nova_aggregates.api import extension_framework
from nova_aggregates.api.views import aggregates as views
from nova_aggregates import policy
from nova_aggregates.policies import hosts as host_rules

ROUTES = (
    ('/os-services', {'GET': 'index'}),
)

BINARY = 'nova-compute'


class ServicesController:

    def __init__(self, compute_hosts):
        self.compute_hosts = compute_hosts

    def index(self, req):
        policy.authorize(req.context, host_rules.SERVICES_LIST)
        binary = req.GET.get('binary')
        host_filter = req.GET.get('host')
        services = []
        if binary not in (None, BINARY):
            return {'services': services}
        for host in self.compute_hosts.list(req.context):
            if host_filter is not None and host['name'] != host_filter:
                continue
            services.append({
                'id': host['id'], 'binary': BINARY, 'host': host['name'],
                'zone': host['zone'], 'status': 'enabled', 'state': 'up',
                'updated_at': views.timestamp(
                    host['updated_at'] or host['created_at']),
                'disabled_reason': None,
            })
        return {'services': services}


class Services(extension_framework.ExtensionDescriptor):
    """Services support"""

    name = 'Services'
    alias = 'os-services'
    namespace = 'http://docs.openstack.org/compute/ext/services/api/v2'
    updated = '2012-10-28T00:00:00-00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, ServicesController(services.compute_hosts))]
