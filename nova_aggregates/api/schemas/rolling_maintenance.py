"""JSON schemas of the os-rolling-maintenance bodies."""

from nova_aggregates import constants

_HOST = {'type': 'string', 'minLength': 1, 'maxLength': 255}

#: ``POST os-rolling-maintenance``.  ``aggregate_id`` may be a string of
#: digits, as the 2012 XML surface sends every value.
create = {
    'type': 'object',
    'properties': {
        'rolling_maintenance': {
            'type': 'object',
            'properties': {
                'aggregate_id': {'anyOf': [
                    {'type': 'integer', 'minimum': 1,
                     'maximum': 2 ** 31 - 1},
                    {'type': 'string', 'pattern': '^[1-9][0-9]{0,9}$'}]},
                'hosts': {'type': 'array', 'items': _HOST, 'minItems': 1,
                          'maxItems': 1000, 'uniqueItems': True},
                'host_action': {'type': 'string',
                                'enum': list(constants.HOST_ACTIONS)},
            },
            'required': ['aggregate_id'],
            'additionalProperties': False,
        },
    },
    'required': ['rolling_maintenance'],
    'additionalProperties': False,
}

#: ``POST os-rolling-maintenance/{id}/action``.
resume = {
    'type': 'object',
    'properties': {'resume': {'type': 'null'}},
    'required': ['resume'],
    'additionalProperties': False,
}
