"""JSON schema of the ``POST os-host-matching`` body (both surfaces; the
legacy surface's XML is read into the same shape first).

The parts are Nova's: a flavor's name and extra specs (keys and values as
Nova's flavor API takes them: numbers become strings, as Nova stores
them), an image's properties as Glance holds them, the project and the
availability zone asked for.  Every part is optional.
"""

from nova_aggregates.api.schemas import aggregates

format_checker = aggregates.format_checker

#: Nova's flavor extra spec keys, and aggregate metadata keys.
_KEY_PATTERN = aggregates.METADATA_KEY_PATTERN
_VALUE = {'type': 'string', 'maxLength': 255, 'format': 'printable'}

MATCH = {
    'type': 'object',
    'properties': {'request': {
        'type': 'object',
        'properties': {
            'flavor': {
                'type': 'object',
                'properties': {
                    'name': aggregates.NAME,
                    'extra_specs': {
                        'type': 'object',
                        'patternProperties': {_KEY_PATTERN: {
                            'type': ['string', 'number'], 'maxLength': 255,
                            'format': 'printable'}},
                        'additionalProperties': False,
                    },
                },
                'additionalProperties': False,
            },
            'image': {
                'type': 'object',
                'properties': {'properties': {
                    'type': 'object',
                    'patternProperties': {_KEY_PATTERN: _VALUE},
                    'additionalProperties': False,
                }},
                'additionalProperties': False,
            },
            'project_id': {'type': 'string', 'minLength': 1,
                           'maxLength': 255, 'format': 'name'},
            'availability_zone': {'type': 'string', 'minLength': 1,
                                  'maxLength': 255,
                                  'format': 'availability_zone'},
        },
        'additionalProperties': False,
    }},
    'required': ['request'],
    'additionalProperties': False,
}
