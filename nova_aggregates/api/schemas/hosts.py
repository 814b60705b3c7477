"""JSON schemas of the os-hosts and os-services update bodies."""

_ENABLE_DISABLE = {'type': 'string', 'enum': ['enable', 'disable']}

#: ``PUT os-hosts/{host}``: status and/or maintenance mode, with our
#: ``dry_run`` (entering maintenance) and ``restore`` (leaving it).
host_update = {
    'type': 'object',
    'properties': {
        'status': _ENABLE_DISABLE,
        'maintenance_mode': _ENABLE_DISABLE,
        'dry_run': {'type': 'boolean'},
        'restore': {'type': 'string', 'enum': ['migrate-back', 'skip']},
    },
    'anyOf': [{'required': ['status']}, {'required': ['maintenance_mode']}],
    'additionalProperties': False,
}

_HOST = {'type': 'string', 'minLength': 1, 'maxLength': 255}
_BINARY = {'type': 'string', 'enum': ['nova-compute']}
_REASON = {'type': 'string', 'minLength': 1, 'maxLength': 255}

#: ``PUT os-services/enable`` and ``os-services/disable`` (2.1 shape).
service_action = {
    'type': 'object',
    'properties': {'host': _HOST, 'binary': _BINARY},
    'required': ['host', 'binary'],
    'additionalProperties': False,
}

#: ``PUT os-services/disable-log-reason``.
service_disable_log_reason = {
    'type': 'object',
    'properties': {'host': _HOST, 'binary': _BINARY,
                   'disabled_reason': _REASON},
    'required': ['host', 'binary', 'disabled_reason'],
    'additionalProperties': False,
}

#: ``PUT os-services/{id}`` (2.53 shape).
service_update = {
    'type': 'object',
    'properties': {'status': {'type': 'string',
                              'enum': ['enabled', 'disabled']},
                   'disabled_reason': _REASON,
                   'forced_down': {'type': 'boolean'}},
    'additionalProperties': False,
    'minProperties': 1,
}
