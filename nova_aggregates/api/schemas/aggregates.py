"""JSON schemas of the aggregate request bodies (both surfaces).

``name`` and ``availability_zone`` use format checkers for what a pattern
says badly: printable characters only, no leading or trailing whitespace,
and (zones) no ``:``, which the scheduler reads as ``zone:host``.
"""

import re
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


# -- quick checks -------------------------------------------------------------
# The bodies nearly every request sends, recognised without jsonschema (a
# tenth of a small request's time): each returns True only for a body its
# schema accepts, and False for anything it does not decide, which then goes
# through jsonschema for the verdict and its message.
# tests/unit/api/test_schemas.py holds them to their schemas.

_HOST_RE = re.compile(r'[a-zA-Z0-9-._]{1,255}\Z')
_METADATA_KEY_RE = re.compile(METADATA_KEY_PATTERN)


def _name_ok(value):
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        return False
    try:
        return _check_name(value)
    except ValueError:
        return False


def _zone_ok(value):
    return value is None or (_name_ok(value) and ':' not in value)


def _only(body, key):
    """``body[key]`` when ``body`` is an object of that one key."""
    if type(body) is dict and len(body) == 1 and key in body:
        return body[key]
    return None


def _create_ok(body):
    inner = _only(body, 'aggregate')
    return type(inner) is dict and 'name' in inner and \
        inner.keys() <= {'name', 'availability_zone'} and \
        _name_ok(inner['name']) and \
        _zone_ok(inner.get('availability_zone'))


def _update_ok(body):
    inner = _only(body, 'aggregate')
    return type(inner) is dict and bool(inner) and \
        inner.keys() <= {'name', 'availability_zone'} and \
        ('name' not in inner or _name_ok(inner['name'])) and \
        _zone_ok(inner.get('availability_zone'))


def _host_ok(action):
    def check(body):
        inner = _only(body, action)
        host = _only(inner, 'host')
        return type(host) is str and _HOST_RE.match(host) is not None
    return check


def _metadata_ok(body):
    metadata = _only(_only(body, 'set_metadata'), 'metadata')
    if type(metadata) is not dict:
        return False
    for key, value in metadata.items():
        if type(key) is not str or not _METADATA_KEY_RE.match(key):
            return False
        if value is None:
            continue
        if type(value) is not str or len(value) > 255 or \
                not is_printable(value):
            return False
        if key == 'availability_zone' and not (_name_ok(value) and
                                               ':' not in value):
            return False
    return True


QUICK = {
    id(CREATE): _create_ok,
    id(UPDATE): _update_ok,
    id(ADD_HOST): _host_ok('add_host'),
    id(REMOVE_HOST): _host_ok('remove_host'),
    id(SET_METADATA): _metadata_ok,
}
