"""Validate request bodies against JSON schemas, with messages that say
which field was wrong and why."""

import re

import jsonschema

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi

_MAX_SHOWN = 200
_validators = {}
# No schema of ours uses maxProperties (the metadata item limit is the
# manager's rule, TooManyMetadataItems).
_VERBS = {'maxLength': 'is longer than', 'minLength': 'is shorter than',
          'type': 'is not of type', 'pattern': 'does not match'}


def _validator(schema, format_checker):
    key = id(schema)
    validator = _validators.get(key)
    if validator is None:
        validator = jsonschema.Draft4Validator(schema,
                                               format_checker=format_checker)
        _validators[key] = validator
    return validator


def _shown(value):
    # printable_for_message already cuts the text short.
    return wsgi.printable_for_message(repr(value))


def validate(schema, body, format_checker=None, quick=None):
    """Raise a 400 APIError naming the first problem of ``body``.

    ``quick(body)``: True only for a body ``schema`` accepts, recognised
    without jsonschema; anything else is left to jsonschema."""
    if quick is not None and quick(body):
        return
    validator = _validator(schema, format_checker)
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return
    path = '/'.join(str(p) for p in error.absolute_path) or 'request body'
    if error.validator == 'additionalProperties':
        reason = 'Additional properties are not allowed: %s' % ', '.join(
            sorted(_shown(k) for k in error.instance
                   if k not in error.schema.get('properties', {})
                   and not _matches_pattern(k, error.schema))[:5])
    elif error.validator == 'format':
        reason = '%s %s' % (_shown(error.instance),
                            error.cause if error.cause else 'is not valid')
    else:
        reason = _short_message(error)
    raise faults.APIError(400, 'Invalid input for field/attribute %s. %s'
                          % (wsgi.printable_for_message(path), reason))


def _matches_pattern(key, schema):
    return any(re.search(p, key) for p in schema.get('patternProperties', {}))


def _short_message(error):
    if error.validator == 'required':
        return error.message if len(error.message) <= _MAX_SHOWN else \
            'A required property is missing.'
    if error.validator == 'anyOf' and error.schema_path and \
            'aggregate' in error.absolute_path:
        return 'At least one of name and availability_zone is required.'
    if error.validator in _VERBS:
        return 'Value %s: %s %s.' % (_shown(error.instance),
                                     _VERBS[error.validator],
                                     _shown(error.validator_value))
    return wsgi.printable_for_message(error.message)
