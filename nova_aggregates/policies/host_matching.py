from oslo_policy import policy

from nova_aggregates.policies import base

CREATE = 'os_compute_api:os-host-matching:create'

rules = [
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.ADMIN,
        description='Ask which compute hosts the aggregate rules of Nova\'s '
                    'scheduler admit for a request, and why the others are '
                    'refused.',
        operations=[{'method': 'POST', 'path': '/os-host-matching'}]),
]


def list_rules():
    return rules
