from oslo_policy import policy

from nova_aggregates.policies import base

#: The rule of each os-aggregates operation: ``PREFIX % 'index'``.
PREFIX = 'os_compute_api:os-aggregates:%s'
_PATH = '/os-aggregates'


def _rule(name, description, method, path):
    return policy.DocumentedRuleDefault(
        name=PREFIX % name, check_str=base.ADMIN, description=description,
        operations=[{'method': method, 'path': path}])


rules = [
    _rule('index', 'List all aggregates.', 'GET', _PATH),
    _rule('create', 'Create an aggregate.', 'POST', _PATH),
    _rule('show', 'Show one aggregate.', 'GET', _PATH + '/{aggregate_id}'),
    _rule('update', 'Rename an aggregate or change its availability zone.',
          'PUT', _PATH + '/{aggregate_id}'),
    _rule('delete', 'Delete an empty aggregate.', 'DELETE',
          _PATH + '/{aggregate_id}'),
    _rule('add_host', 'Add a host to an aggregate (joins it to the pool of a '
          'pool aggregate).', 'POST',
          _PATH + '/{aggregate_id}/action (add_host)'),
    _rule('remove_host', 'Remove a host from an aggregate (ejects it from the '
          'pool of a pool aggregate).', 'POST',
          _PATH + '/{aggregate_id}/action (remove_host)'),
    _rule('set_metadata', 'Set or remove metadata of an aggregate.', 'POST',
          _PATH + '/{aggregate_id}/action (set_metadata)'),
]


def list_rules():
    return rules
