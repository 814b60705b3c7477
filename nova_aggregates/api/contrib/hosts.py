"""os-hosts: the registered compute hosts (2012 shape)."""

from nova_aggregates.api import extension_framework
from nova_aggregates import policy
from nova_aggregates.policies import hosts as host_rules

ROUTES = (
    ('/os-hosts', {'GET': 'index'}),
)


class HostsController:

    def __init__(self, compute_hosts):
        self.compute_hosts = compute_hosts

    def index(self, req):
        policy.authorize(req.context, host_rules.HOSTS_LIST)
        zone = req.GET.get('zone')
        return {'hosts': [
            {'host_name': host['name'], 'service': 'compute',
             'zone': host['zone']}
            for host in self.compute_hosts.list(req.context)
            if zone is None or host['zone'] == zone]}


class Hosts(extension_framework.ExtensionDescriptor):
    """Admin-only host listing"""

    name = 'Hosts'
    alias = 'os-hosts'
    namespace = 'http://docs.openstack.org/compute/ext/hosts/api/v1.1'
    updated = '2011-06-29T00:00:00+00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, HostsController(services.compute_hosts))]
