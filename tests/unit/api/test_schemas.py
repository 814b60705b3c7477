"""The quick checks of api/schemas/aggregates.py against their schemas: a
body a quick check accepts is one jsonschema accepts (hypothesis, seeded,
over bodies near and far from valid), and the bodies clients send are
accepted by the quick checks, so that they are what serves them."""

import hypothesis
from hypothesis import strategies as st
import jsonschema
import testtools

from nova_aggregates.api.schemas import aggregates as schemas

SCHEMAS = {'CREATE': schemas.CREATE, 'UPDATE': schemas.UPDATE,
           'ADD_HOST': schemas.ADD_HOST, 'REMOVE_HOST': schemas.REMOVE_HOST,
           'SET_METADATA': schemas.SET_METADATA}

# Text near the edges of the rules: allowed and refused characters,
# whitespace, ':', unprintable ones, lengths around 255.
_CHARS = st.sampled_from(list('aZ09-._: ') + ['\t', '\n', '\x00', '\u200b',
                                              '\u00e9', '\ud7ff', '\u2028'])
_TEXT = st.one_of(st.text(_CHARS, max_size=6),
                  st.builds(lambda c, n: c * n, _CHARS,
                            st.integers(250, 260)),
                  st.text(max_size=8))
_VALUE = st.one_of(_TEXT, st.none(), st.integers(), st.booleans(),
                   st.lists(_TEXT, max_size=2), st.dictionaries(
                       _TEXT, _TEXT, max_size=2))


def _object(keys):
    return st.dictionaries(st.one_of(st.sampled_from(keys), _TEXT), _VALUE,
                           max_size=3)


_INNER = _object(['name', 'availability_zone', 'host', 'metadata'])
_METADATA = st.dictionaries(st.one_of(st.sampled_from(
    ['availability_zone', 'ssd', 'a b', 'x:y']), _TEXT), _VALUE, max_size=4)
_BODIES = st.one_of(
    _VALUE,
    st.dictionaries(st.sampled_from(['aggregate', 'add_host', 'remove_host',
                                     'set_metadata', 'other']),
                    st.one_of(_INNER, _VALUE), max_size=2),
    st.builds(lambda m: {'set_metadata': {'metadata': m}}, _METADATA),
    st.builds(lambda i: {'aggregate': i}, st.fixed_dictionaries(
        {}, optional={'name': _TEXT, 'availability_zone': st.one_of(
            _TEXT, st.none())})),
    st.builds(lambda h, a: {a: {'host': h}}, _VALUE,
              st.sampled_from(['add_host', 'remove_host'])))


def _valid(schema, body):
    validator = jsonschema.Draft4Validator(
        schema, format_checker=schemas.format_checker)
    return not list(validator.iter_errors(body))


class TestQuickChecks(testtools.TestCase):

    @hypothesis.settings(max_examples=3000, derandomize=True, database=None,
                         deadline=None)
    @hypothesis.given(_BODIES)
    def test_what_a_quick_check_accepts_its_schema_accepts(self, body):
        for name, schema in SCHEMAS.items():
            if schemas.QUICK[id(schema)](body):
                self.assertTrue(_valid(schema, body), (name, body))

    def test_the_bodies_clients_send_take_the_quick_way(self):
        bodies = [
            ('CREATE', {'aggregate': {'name': 'web'}}),
            ('CREATE', {'aggregate': {'name': 'web',
                                      'availability_zone': 'az1'}}),
            ('CREATE', {'aggregate': {'name': 'web',
                                      'availability_zone': None}}),
            ('UPDATE', {'aggregate': {'name': 'web2'}}),
            ('UPDATE', {'aggregate': {'availability_zone': 'az2'}}),
            ('ADD_HOST', {'add_host': {'host': 'cn-1.example'}}),
            ('REMOVE_HOST', {'remove_host': {'host': 'cn_1'}}),
            ('SET_METADATA', {'set_metadata': {'metadata': {
                'ssd': 'true', 'a b': 'x', 'k:1': None,
                'availability_zone': 'az1'}}}),
            ('SET_METADATA', {'set_metadata': {'metadata': {}}}),
        ]
        for name, body in bodies:
            self.assertTrue(_valid(SCHEMAS[name], body), body)
            self.assertTrue(schemas.QUICK[id(SCHEMAS[name])](body), body)

    def test_what_they_leave_to_jsonschema(self):
        # Refused by the schema, or not decided here: never accepted.
        for name, body in [
                ('CREATE', {'aggregate': {'name': ' web'}}),
                ('CREATE', {'aggregate': {'name': 'w', 'x': 1}}),
                ('CREATE', {'aggregate': {'name': 'w',
                                          'availability_zone': 'a:b'}}),
                ('UPDATE', {'aggregate': {}}),
                ('ADD_HOST', {'add_host': {'host': 'a b'}}),
                ('ADD_HOST', {'add_host': {'host': 'a' * 256}}),
                ('SET_METADATA', {'set_metadata': {'metadata': {
                    'k/1': 'v'}}}),
                ('SET_METADATA', {'set_metadata': {'metadata': {
                    'k': 'v\x00'}}}),
                ('SET_METADATA', {'set_metadata': {'metadata': {
                    'availability_zone': ''}}}),
                ('SET_METADATA', {'set_metadata': {'metadata': {},
                                                   'x': 1}})]:
            self.assertFalse(schemas.QUICK[id(SCHEMAS[name])](body), body)
