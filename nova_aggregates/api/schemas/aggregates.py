"""JSON schemas of the aggregate request bodies (both surfaces).

``name`` and ``availability_zone`` use format checkers for what a pattern
says badly: printable characters only, no leading or trailing whitespace,
and (zones) no ``:``, which the scheduler reads as ``zone:host``.
"""

import unicodedata

import jsonschema

# Control, format, surrogate, private-use and unassigned characters, and
# line/paragraph separators, are not printable.
_UNPRINTABLE_CATEGORIES = frozenset(('Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Zl', 'Zp'))

format_checker = jsonschema.FormatChecker(formats=())


def is_printable(text):
    """True when no character of ``text`` is unprintable."""
    return all(unicodedata.category(c) not in _UNPRINTABLE_CATEGORIES
               for c in text)


@format_checker.checks('name', raises=ValueError)
def _check_name(value):
    if not isinstance(value, str):
        return True
    if not is_printable(value):
        raise ValueError('contains unprintable characters')
    if value.strip() != value:
        raise ValueError('has leading or trailing whitespace')
    return True


@format_checker.checks('availability_zone', raises=ValueError)
def _check_zone(value):
    if not isinstance(value, str):
        return True
    _check_name(value)
    if ':' in value:
        raise ValueError('contains ":"')
    return True


@format_checker.checks('printable', raises=ValueError)
def _check_printable(value):
    if isinstance(value, str) and not is_printable(value):
        raise ValueError('contains unprintable characters')
    return True


NAME = {'type': 'string', 'minLength': 1, 'maxLength': 255, 'format': 'name'}
ZONE = {'type': ['string', 'null'], 'minLength': 1, 'maxLength': 255,
        'format': 'availability_zone'}
# \Z, not $: Python's $ also matches before a trailing newline.
HOST = {'type': 'string', 'minLength': 1, 'maxLength': 255,
        'pattern': r'^[a-zA-Z0-9-._]*\Z'}
METADATA_KEY_PATTERN = r'^[a-zA-Z0-9-_:. ]{1,255}\Z'
METADATA_VALUE = {'type': ['string', 'null'], 'maxLength': 255,
                  'format': 'printable'}


def _wrapped(key, inner):
    return {'type': 'object', 'properties': {key: inner}, 'required': [key],
            'additionalProperties': False}


CREATE = _wrapped('aggregate', {
    'type': 'object',
    'properties': {'name': NAME, 'availability_zone': ZONE},
    'required': ['name'],
    'additionalProperties': False,
})

UPDATE = _wrapped('aggregate', {
    'type': 'object',
    'properties': {'name': NAME, 'availability_zone': ZONE},
    'anyOf': [{'required': ['name']}, {'required': ['availability_zone']}],
    'additionalProperties': False,
})

ADD_HOST = _wrapped('add_host', {
    'type': 'object', 'properties': {'host': HOST}, 'required': ['host'],
    'additionalProperties': False})

REMOVE_HOST = _wrapped('remove_host', {
    'type': 'object', 'properties': {'host': HOST}, 'required': ['host'],
    'additionalProperties': False})

SET_METADATA = _wrapped('set_metadata', {
    'type': 'object',
    'properties': {'metadata': {
        'type': 'object',
        # The zone follows the zone rules here too (null and "" are refused
        # by the manager, with a message of their own).
        'properties': {'availability_zone': {
            'format': 'availability_zone'}},
        'patternProperties': {METADATA_KEY_PATTERN: METADATA_VALUE},
        'additionalProperties': False}},
    'required': ['metadata'],
    'additionalProperties': False})
