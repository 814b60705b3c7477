from oslo_policy import policy

from nova_aggregates.policies import base

HOSTS_LIST = 'os_compute_api:os-hosts:list'
HOSTS_SHOW = 'os_compute_api:os-hosts:show'
HOSTS_UPDATE = 'os_compute_api:os-hosts:update'
SERVICES_LIST = 'os_compute_api:os-services:list'
SERVICES_UPDATE = 'os_compute_api:os-services:update'
EXTENSIONS = 'os_compute_api:extensions'

rules = [
    policy.DocumentedRuleDefault(
        name=HOSTS_LIST, check_str=base.ADMIN,
        description='List registered compute hosts.',
        operations=[{'method': 'GET', 'path': '/os-hosts'}]),
    policy.DocumentedRuleDefault(
        name=HOSTS_SHOW, check_str=base.ADMIN,
        description='Show a compute host: status, maintenance mode and '
                    'resources.',
        operations=[{'method': 'GET', 'path': '/os-hosts/{host_name}'}]),
    policy.DocumentedRuleDefault(
        name=HOSTS_UPDATE, check_str=base.ADMIN,
        description='Enable or disable a compute host, or put it in or out '
                    'of maintenance (live-evacuating its guests).',
        operations=[{'method': 'PUT', 'path': '/os-hosts/{host_name}'}]),
    policy.DocumentedRuleDefault(
        name=SERVICES_UPDATE, check_str=base.ADMIN,
        description='Enable or disable a nova-compute service (its host).',
        operations=[{'method': 'PUT', 'path': '/os-services/enable'},
                    {'method': 'PUT', 'path': '/os-services/disable'},
                    {'method': 'PUT',
                     'path': '/os-services/disable-log-reason'},
                    {'method': 'PUT', 'path': '/os-services/{service_id}'}]),
    policy.DocumentedRuleDefault(
        name=SERVICES_LIST, check_str=base.ADMIN,
        description='List compute services.',
        operations=[{'method': 'GET', 'path': '/os-services'}]),
    policy.DocumentedRuleDefault(
        name=EXTENSIONS, check_str=base.ANY,
        description='List the API extensions.',
        operations=[{'method': 'GET', 'path': '/extensions'},
                    {'method': 'GET', 'path': '/extensions/{alias}'}]),
]


def list_rules():
    return rules
