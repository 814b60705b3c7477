from oslo_policy import policy

from nova_aggregates.policies import base

PREFIX = 'os_compute_api:os-rolling-maintenance:%s'
INDEX = PREFIX % 'index'
SHOW = PREFIX % 'show'
CREATE = PREFIX % 'create'
DELETE = PREFIX % 'delete'
RESUME = PREFIX % 'resume'

_BASE = '/os-rolling-maintenance'

rules = [
    policy.DocumentedRuleDefault(
        name=INDEX, check_str=base.ADMIN,
        description='List rolling maintenance tasks.',
        operations=[{'method': 'GET', 'path': _BASE}]),
    policy.DocumentedRuleDefault(
        name=SHOW, check_str=base.ADMIN,
        description='Show a rolling maintenance task and its hosts.',
        operations=[{'method': 'GET', 'path': _BASE + '/{task_id}'}]),
    policy.DocumentedRuleDefault(
        name=CREATE, check_str=base.ADMIN,
        description='Start a rolling maintenance task: every host of a pool '
                    'aggregate through maintenance in turn.',
        operations=[{'method': 'POST', 'path': _BASE}]),
    policy.DocumentedRuleDefault(
        name=DELETE, check_str=base.ADMIN,
        description='Cancel a rolling maintenance task after its current '
                    'host.',
        operations=[{'method': 'DELETE', 'path': _BASE + '/{task_id}'}]),
    policy.DocumentedRuleDefault(
        name=RESUME, check_str=base.ADMIN,
        description='Resume a failed or cancelled rolling maintenance task.',
        operations=[{'method': 'POST',
                     'path': _BASE + '/{task_id}/action (resume)'}]),
]


def list_rules():
    return rules
