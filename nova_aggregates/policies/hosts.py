from oslo_policy import policy

from nova_aggregates.policies import base

HOSTS_LIST = 'os_compute_api:os-hosts:list'
SERVICES_LIST = 'os_compute_api:os-services:list'
EXTENSIONS = 'os_compute_api:extensions'

rules = [
    policy.DocumentedRuleDefault(
        name=HOSTS_LIST, check_str=base.ADMIN,
        description='List registered compute hosts.',
        operations=[{'method': 'GET', 'path': '/os-hosts'}]),
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
