"""Bad input on both surfaces: every refusal is a fault with the right
status and a message that says what was wrong, never a 500 or a
traceback, and the database is left exactly as it was.

Each request of ``REFUSED`` becomes one test per surface.  The database
holds one aggregate (id 1, zone az1, host1, metadata k=v) before each.
"""

import io
import itertools
import json
import string

import webob

from tests import base

AGGREGATES = '/os-aggregates'
ONE = '/os-aggregates/1'
ACTION = '/os-aggregates/1/action'
LIMIT = 114688  # [api] max_request_body_size default (112 KiB)


def _create(**fields):
    return {'aggregate': fields}


def _metadata(metadata):
    return {'set_metadata': {'metadata': metadata}}


# name: (method, path, body, content type or None, status, fault, message)
REFUSED = {
    # -- not parseable ---------------------------------------------------
    'truncated_json': ('POST', AGGREGATES, '{"aggregate": ', None, 400,
                       'badRequest', 'Malformed request body'),
    'trailing_comma': ('POST', AGGREGATES, '{"aggregate": {"name": "x",}}',
                       None, 400, 'badRequest', 'Malformed request body'),
    'single_quotes': ('PUT', ONE, "{'aggregate': {'name': 'x'}}", None, 400,
                      'badRequest', 'Malformed request body'),
    'json_action_garbage': ('POST', ACTION, '{"add_host": {"host": }}', None,
                            400, 'badRequest', 'Malformed request body'),
    'empty_body': ('POST', AGGREGATES, '', None, 400, 'badRequest',
                   'The request body is empty.'),
    'blank_body': ('PUT', ONE, ' \r\n\t', None, 400, 'badRequest',
                   'The request body is empty.'),
    'empty_action_body': ('POST', ACTION, '', None, 400, 'badRequest',
                          'The request body is empty.'),
    'invalid_utf8': ('POST', AGGREGATES,
                     b'{"aggregate": {"name": "caf\xe9"}}', None, 400,
                     'badRequest', 'not UTF-8'),
    'overlong_utf8': ('POST', ACTION,
                      b'{"add_host": {"host": "\xc0\xafetc"}}', None, 400,
                      'badRequest', 'not UTF-8'),
    'huge_integer': ('POST', AGGREGATES,
                     '{"aggregate": {"name": %s}}' % ('9' * 5000), None, 400,
                     'badRequest', 'Malformed request body'),
    'deeply_nested_json': ('POST', AGGREGATES,
                           '[' * 50000 + ']' * 50000, None, 400,
                           'badRequest', 'nested too deeply'),
    'deeply_nested_name': ('POST', AGGREGATES,
                           '{"aggregate": {"name": %s}}' % (
                               '{"a": ' * 15000 + '1' + '}' * 15000),
                           None, 400, 'badRequest', 'nested too deeply'),
    'nested_name_within_recursion_limit': (
        'POST', AGGREGATES,
        '{"aggregate": {"name": %s}}' % ('[' * 900 + ']' * 900), None, 400,
        'badRequest', 'nested too deeply'),
    'nested_name_a_little': (
        'POST', AGGREGATES,
        '{"aggregate": {"name": %s}}' % ('[' * 20 + ']' * 20), None, 400,
        'badRequest', "is not of type 'string'"),
    'nested_metadata_value': (
        'POST', ACTION,
        '{"set_metadata": {"metadata": {"k": %s}}}' % (
            '{"a": ' * 900 + '1' + '}' * 900), None, 400, 'badRequest',
        'nested too deeply'),
    # -- wrong shapes and types --------------------------------------------
    'create_null_body': ('POST', AGGREGATES, 'null', None, 400, 'badRequest',
                         "is not of type 'object'"),
    'create_list_body': ('POST', AGGREGATES, [], None, 400, 'badRequest',
                         "is not of type 'object'"),
    'create_string_body': ('POST', AGGREGATES, '"aggregate"', None, 400,
                           'badRequest', "is not of type 'object'"),
    'update_null_body': ('PUT', ONE, 'null', None, 400, 'badRequest',
                         "is not of type 'object'"),
    'action_null_body': ('POST', ACTION, 'null', None, 400, 'badRequest',
                         'exactly one action'),
    'action_list_body': ('POST', ACTION, [{'add_host': {'host': 'host1'}}],
                         None, 400, 'badRequest', 'exactly one action'),
    'aggregate_is_a_string': ('POST', AGGREGATES, {'aggregate': 'agg'}, None,
                              400, 'badRequest', "is not of type 'object'"),
    'name_is_a_number': ('POST', AGGREGATES, _create(name=123), None, 400,
                         'badRequest', "Value 123: is not of type 'string'"),
    'name_is_null': ('POST', AGGREGATES, _create(name=None), None, 400,
                     'badRequest', "Value None: is not of type 'string'"),
    'name_is_a_list': ('POST', AGGREGATES, _create(name=['x']), None, 400,
                       'badRequest', "is not of type 'string'"),
    'name_is_a_bool': ('PUT', ONE, _create(name=True), None, 400,
                       'badRequest', "is not of type 'string'"),
    'name_is_infinite': ('POST', AGGREGATES,
                         '{"aggregate": {"name": 1e999}}', None, 400,
                         'badRequest', "Value inf: is not of type 'string'"),
    'name_is_nan': ('POST', AGGREGATES, '{"aggregate": {"name": NaN}}', None,
                    400, 'badRequest', "is not of type 'string'"),
    'zone_is_a_number': ('POST', AGGREGATES,
                         _create(name='x', availability_zone=5), None, 400,
                         'badRequest', 'aggregate/availability_zone'),
    'update_zone_is_a_dict': ('PUT', ONE, _create(availability_zone={}),
                              None, 400, 'badRequest',
                              'aggregate/availability_zone'),
    'host_is_a_number': ('POST', ACTION, {'add_host': {'host': 5}}, None,
                         400, 'badRequest', 'add_host/host'),
    'remove_host_is_null': ('POST', ACTION, {'remove_host': {'host': None}},
                            None, 400, 'badRequest', 'remove_host/host'),
    'add_host_is_a_string': ('POST', ACTION, {'add_host': 'host1'}, None,
                             400, 'badRequest', 'add_host'),
    'metadata_is_a_list': ('POST', ACTION, _metadata(['k']), None, 400,
                           'badRequest', 'set_metadata/metadata'),
    'metadata_is_a_string': ('POST', ACTION, _metadata('k=v'), None, 400,
                             'badRequest', 'set_metadata/metadata'),
    'metadata_is_missing': ('POST', ACTION, {'set_metadata': {}}, None, 400,
                            'badRequest', "'metadata' is a required"),
    'metadata_value_is_a_dict': ('POST', ACTION, _metadata({'k': {}}), None,
                                 400, 'badRequest', 'set_metadata/metadata/k'),
    'metadata_value_is_a_bool': ('POST', ACTION, _metadata({'k': False}),
                                 None, 400, 'badRequest',
                                 'set_metadata/metadata/k'),
    'metadata_value_is_a_number': ('POST', ACTION, _metadata({'k': 0}), None,
                                   400, 'badRequest',
                                   'set_metadata/metadata/k'),
    # -- unknown keys at each level ----------------------------------------
    'create_unknown_top_level_key': (
        'POST', AGGREGATES, {'aggregate': {'name': 'x'}, 'extra': 1}, None,
        400, 'badRequest', "Additional properties are not allowed: 'extra'"),
    'create_unknown_aggregate_key': (
        'POST', AGGREGATES, _create(name='x', hosts=['host1']), None, 400,
        'badRequest', "Additional properties are not allowed: 'hosts'"),
    'create_metadata_key': (
        'POST', AGGREGATES, _create(name='x', metadata={}), None, 400,
        'badRequest', "Additional properties are not allowed: 'metadata'"),
    'create_wrong_wrapper': ('POST', AGGREGATES, {'aggregates': {'name': 'x'}},
                             None, 400, 'badRequest',
                             "'aggregate' is a required property"),
    'update_unknown_top_level_key': (
        'PUT', ONE, {'aggregate': {'name': 'x'}, 'id': 1}, None, 400,
        'badRequest', "Additional properties are not allowed: 'id'"),
    'update_unknown_aggregate_key': (
        'PUT', ONE, _create(name='x', id=2), None, 400, 'badRequest',
        "Additional properties are not allowed: 'id'"),
    'update_only_unknown_key': ('PUT', ONE, _create(uuid='x'), None, 400,
                                'badRequest', 'Additional properties'),
    'add_host_unknown_key': ('POST', ACTION,
                             {'add_host': {'host': 'host1', 'force': True}},
                             None, 400, 'badRequest',
                             "Additional properties are not allowed: 'force'"),
    'remove_host_unknown_key': (
        'POST', ACTION, {'remove_host': {'host': 'host1', 'x': 1}}, None, 400,
        'badRequest', "Additional properties are not allowed: 'x'"),
    'set_metadata_unknown_key': (
        'POST', ACTION, {'set_metadata': {'metadata': {}, 'replace': True}},
        None, 400, 'badRequest',
        "Additional properties are not allowed: 'replace'"),
    'two_actions': ('POST', ACTION, {'add_host': {'host': 'host1'},
                                     'remove_host': {'host': 'host1'}}, None,
                    400, 'badRequest', 'exactly one action'),
    'unknown_action': ('POST', ACTION, {'evacuate': {'host': 'host1'}}, None,
                       400, 'badRequest',
                       "Aggregates does not have the 'evacuate' action"),
    # -- names and zones ---------------------------------------------------
    'empty_name': ('POST', AGGREGATES, _create(name=''), None, 400,
                   'badRequest', 'is shorter than 1'),
    'name_too_long': ('POST', AGGREGATES, _create(name='n' * 256), None, 400,
                      'badRequest', 'is longer than 255'),
    'unicode_name_too_long': ('POST', AGGREGATES, _create(name='\u00e9' * 256),
                              None, 400, 'badRequest', 'is longer than 255'),
    'name_leading_space': ('POST', AGGREGATES, _create(name=' agg'), None, 400,
                           'badRequest', 'leading or trailing whitespace'),
    'name_trailing_space': ('POST', AGGREGATES, _create(name='agg '), None,
                            400, 'badRequest',
                            'leading or trailing whitespace'),
    'name_only_spaces': ('POST', AGGREGATES, _create(name='   '), None, 400,
                         'badRequest', 'leading or trailing whitespace'),
    'name_trailing_nbsp': ('POST', AGGREGATES, _create(name='agg\u00a0'),
                           None, 400, 'badRequest',
                           'leading or trailing whitespace'),
    'update_name_padded': ('PUT', ONE, _create(name=' agg '), None, 400,
                           'badRequest', 'leading or trailing whitespace'),
    'update_name_too_long': ('PUT', ONE, _create(name='n' * 256), None, 400,
                             'badRequest', 'is longer than 255'),
    'name_with_newline': ('POST', AGGREGATES, _create(name='a\nb'), None, 400,
                          'badRequest', 'unprintable'),
    'name_with_tab': ('POST', AGGREGATES, _create(name='a\tb'), None, 400,
                      'badRequest', 'unprintable'),
    'name_with_nul': ('POST', AGGREGATES, _create(name='a\x00b'), None, 400,
                      'badRequest', 'unprintable'),
    'name_with_escape': ('POST', AGGREGATES, _create(name='a\x1b[31mb'), None,
                         400, 'badRequest', 'unprintable'),
    'name_with_delete': ('POST', AGGREGATES, _create(name='a\x7fb'), None, 400,
                         'badRequest', 'unprintable'),
    'name_with_c1_control': ('POST', AGGREGATES, _create(name='a\x85b'), None,
                             400, 'badRequest', 'unprintable'),
    'name_with_zero_width_space': ('POST', AGGREGATES,
                                   _create(name='a\u200bb'), None, 400,
                                   'badRequest', 'unprintable'),
    'name_with_line_separator': ('POST', AGGREGATES, _create(name='a\u2028b'),
                                 None, 400, 'badRequest', 'unprintable'),
    'name_with_lone_surrogate': ('POST', AGGREGATES,
                                 '{"aggregate": {"name": "a\\ud800b"}}', None,
                                 400, 'badRequest', 'unprintable'),
    'zone_empty': ('POST', AGGREGATES, _create(name='x', availability_zone=''),
                   None, 400, 'badRequest', 'is shorter than 1'),
    'zone_too_long': ('POST', AGGREGATES,
                      _create(name='x', availability_zone='z' * 256), None,
                      400, 'badRequest', 'is longer than 255'),
    'zone_with_colon': ('POST', AGGREGATES,
                        _create(name='x', availability_zone='az:host'), None,
                        400, 'badRequest', 'contains ":"'),
    'zone_padded': ('POST', AGGREGATES,
                    _create(name='x', availability_zone='az1 '), None, 400,
                    'badRequest', 'leading or trailing whitespace'),
    'zone_with_nul': ('POST', AGGREGATES,
                      _create(name='x', availability_zone='a\x00z'), None,
                      400, 'badRequest', 'unprintable'),
    'update_zone_with_colon': ('PUT', ONE, _create(availability_zone='a:b'),
                               None, 400, 'badRequest', 'contains ":"'),
    # -- hosts -------------------------------------------------------------
    'host_empty': ('POST', ACTION, {'add_host': {'host': ''}}, None, 400,
                   'badRequest', 'is shorter than 1'),
    'host_too_long': ('POST', ACTION, {'add_host': {'host': 'h' * 256}}, None,
                      400, 'badRequest', 'is longer than 255'),
    'host_with_space': ('POST', ACTION, {'add_host': {'host': 'host 1'}},
                        None, 400, 'badRequest', 'does not match'),
    'host_with_slash': ('POST', ACTION, {'add_host': {'host': '../host1'}},
                        None, 400, 'badRequest', 'does not match'),
    'host_with_trailing_newline': ('POST', ACTION,
                                   {'remove_host': {'host': 'host1\n'}},
                                   None, 400, 'badRequest', 'does not match'),
    'host_with_nul': ('POST', ACTION, {'add_host': {'host': 'host1\x00'}},
                      None, 400, 'badRequest', 'does not match'),
    'host_unicode': ('POST', ACTION, {'add_host': {'host': 'h\u00f6st'}}, None,
                     400, 'badRequest', 'does not match'),
    # -- metadata ----------------------------------------------------------
    'metadata_key_empty': ('POST', ACTION, _metadata({'': 'v'}), None, 400,
                           'badRequest', 'Additional properties'),
    'metadata_key_too_long': ('POST', ACTION, _metadata({'k' * 256: 'v'}),
                              None, 400, 'badRequest',
                              'Additional properties'),
    'metadata_key_with_slash': ('POST', ACTION, _metadata({'a/b': 'v'}), None,
                                400, 'badRequest',
                                "Additional properties are not allowed: "
                                "'a/b'"),
    'metadata_key_with_trailing_newline': (
        'POST', ACTION, _metadata({'k\n': 'v'}), None, 400, 'badRequest',
        'Additional properties are not allowed'),
    'metadata_key_with_nul': ('POST', ACTION, _metadata({'k\x00': 'v'}), None,
                              400, 'badRequest',
                              'Additional properties are not allowed'),
    'metadata_key_unicode': ('POST', ACTION, _metadata({'cl\u00e9': 'v'}),
                             None, 400, 'badRequest',
                             'Additional properties are not allowed'),
    'metadata_value_too_long': ('POST', ACTION, _metadata({'k': 'v' * 256}),
                                None, 400, 'badRequest', 'is longer than 255'),
    'metadata_value_with_newline': ('POST', ACTION, _metadata({'k': 'a\nb'}),
                                    None, 400, 'badRequest', 'unprintable'),
    'metadata_value_with_nul': ('POST', ACTION, _metadata({'k': 'a\x00'}),
                                None, 400, 'badRequest', 'unprintable'),
    'metadata_value_with_bell': ('POST', ACTION, _metadata({'k': '\x07'}),
                                 None, 400, 'badRequest', 'unprintable'),
    'metadata_zone_with_colon': (
        'POST', ACTION, _metadata({'availability_zone': 'a:b'}), None, 400,
        'badRequest', 'contains ":"'),
    # -- media types -------------------------------------------------------
    'content_type_html': ('POST', AGGREGATES, _create(name='x'), 'text/html',
                          415, 'badMediaType',
                          'Unsupported Content-Type text/html'),
    'content_type_form': ('POST', AGGREGATES, 'name=x',
                          'application/x-www-form-urlencoded', 415,
                          'badMediaType', 'Unsupported Content-Type'),
    'content_type_multipart': ('PUT', ONE, _create(name='x'),
                               'multipart/form-data; boundary=x', 415,
                               'badMediaType', 'Unsupported Content-Type'),
    'content_type_octet_stream': ('POST', ACTION,
                                  {'add_host': {'host': 'host2'}},
                                  'application/octet-stream', 415,
                                  'badMediaType', 'Unsupported Content-Type'),
    'content_type_yaml': ('POST', AGGREGATES, 'aggregate: {name: x}',
                          'application/yaml', 415, 'badMediaType',
                          'Unsupported Content-Type'),
}


def _refused(case):
    method, path, body, content_type, status, fault, message = case

    def test(self):
        self.assertRefused(method, self.PREFIX + path, body, content_type,
                           status, fault, message)
    return test


class ValidationTests:
    """Mixed into an APITestCase; a subclass names the surface."""

    PREFIX = '/v2.1'

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')
        self.api.register_host('host2')
        agg = self.create_aggregate('agg1', 'az1')
        self.action(agg['id'], 'add_host', {'host': 'host1'})
        self.action(agg['id'], 'set_metadata', {'metadata': {'k': 'v'}})
        self.before = self.snapshot()

    def snapshot(self):
        return self.json_request('GET', '/v2.1/os-aggregates', headers={
            'OpenStack-API-Version': 'compute latest'})['aggregates']

    def assertUnchanged(self):
        self.assertEqual(self.before, self.snapshot())

    def assertRefused(self, method, path, body, content_type, status, fault,
                      message):
        response = self.request(method, path, body,
                                content_type=content_type)
        self.assertNotIn(b'Traceback', response.body)
        self.assertFault(response, status, fault, message)
        self.assertUnchanged()
        return response

    def raw_request(self, method, path, body, headers=None, chunked=False):
        """A request with exactly these headers (no default Content-Type);
        ``chunked`` sends the body without a Content-Length."""
        req = webob.Request.blank(self.PREFIX + path, method=method)
        req.headers['X-Auth-Token'] = 'admin:admin'
        req.headers.update(headers or {})
        if chunked:
            # What a server (gunicorn) hands over for a chunked request: a
            # stream that ends with the body, flagged as such.
            req.environ['wsgi.input'] = io.BytesIO(body)
            req.environ['wsgi.input_terminated'] = True
            req.environ.pop('CONTENT_LENGTH', None)
            req.headers['Transfer-Encoding'] = 'chunked'
        else:
            req.body = body
        self.last_request = req
        return req.get_response(self.api.app)

    # -- what is accepted ---------------------------------------------------

    def test_missing_content_type_is_read_as_json(self):
        response = self.raw_request('POST', AGGREGATES,
                                    b'{"aggregate": {"name": "agg2"}}')
        self.assertEqual('', self.last_request.content_type)
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('agg2', response.json['aggregate']['name'])

    def test_json_media_types(self):
        for number, content_type in enumerate((
                'text/plain', 'application/json',
                'application/json; charset=UTF-8',
                'application/vnd.openstack.compute+json')):
            response = self.request('POST', self.PREFIX + AGGREGATES,
                                    _create(name='agg-%d' % number),
                                    content_type=content_type)
            self.assertEqual(200, response.status_int,
                             (content_type, response.body))
            self.assertEqual('agg-%d' % number,
                             response.json['aggregate']['name'])

    def test_unicode_names_and_zones(self):
        for name in ('Z\u00fcrich', '\u6771\u4eac-1', 'caf\u00e9 \u2603',
                     '\U0001f680' * 255, 'a' * 255, 'x y\u00a0z'):
            agg = self.json_request('POST', self.PREFIX + AGGREGATES,
                                    _create(name=name,
                                            availability_zone=name))
            self.assertEqual((name, name), (agg['aggregate']['name'],
                                            agg['aggregate'][
                                                'availability_zone']))
        shown = [a['name'] for a in self.snapshot()]
        self.assertIn('\U0001f680' * 255, shown)

    def test_longest_metadata_key_and_value(self):
        body = self.action(1, 'set_metadata', {'metadata': {
            'K' * 255: 'V' * 255, 'a-b_c:d. e': 'sp ace'}},
            prefix=self.PREFIX)
        self.assertEqual('V' * 255, body['aggregate']['metadata']['K' * 255])
        self.assertEqual('sp ace',
                         body['aggregate']['metadata']['a-b_c:d. e'])

    def test_longest_host_name(self):
        self.api.register_host('h' * 255)
        body = self.action(1, 'add_host', {'host': 'h' * 255},
                           prefix=self.PREFIX)
        self.assertEqual(['host1', 'h' * 255], body['aggregate']['hosts'])

    def test_host_name_characters(self):
        self.api.register_host('Host-1.example_org')
        body = self.action(1, 'add_host', {'host': 'Host-1.example_org'},
                           prefix=self.PREFIX)
        self.assertEqual(['host1', 'Host-1.example_org'],
                         body['aggregate']['hosts'])

    # -- body size ----------------------------------------------------------

    def _padded_create(self, size, name='big'):
        body = json.dumps(_create(name=name)).encode('ascii')
        return body[:-1] + b' ' * (size - len(body)) + b'}'

    def test_body_over_the_limit(self):
        response = self.raw_request(
            'POST', AGGREGATES, self._padded_create(LIMIT + 1),
            {'Content-Type': 'application/json'})
        self.assertFault(response, 413, 'overLimit',
                         'Request body is larger than the limit of 114688 '
                         'bytes.')
        self.assertUnchanged()

    def test_body_at_the_limit(self):
        body = self._padded_create(LIMIT)
        self.assertEqual(LIMIT, len(body))
        response = self.raw_request('POST', AGGREGATES, body,
                                    {'Content-Type': 'application/json'})
        self.assertEqual(200, response.status_int, response.body[:200])
        self.assertEqual('big', response.json['aggregate']['name'])

    def test_chunked_body_over_the_limit(self):
        response = self.raw_request(
            'POST', AGGREGATES, self._padded_create(LIMIT + 1),
            {'Content-Type': 'application/json'}, chunked=True)
        self.assertFault(response, 413, 'overLimit',
                         'larger than the limit of 114688 bytes')
        self.assertUnchanged()

    def test_chunked_body_far_over_the_limit(self):
        response = self.raw_request(
            'PUT', ONE, b'{"aggregate": {"name": "' + b'x' * (4 * LIMIT) +
            b'"}}', {'Content-Type': 'application/json'}, chunked=True)
        self.assertFault(response, 413, 'overLimit', 'larger than the limit')
        self.assertUnchanged()

    def test_chunked_body_within_the_limit(self):
        response = self.raw_request(
            'POST', AGGREGATES, self._padded_create(LIMIT, 'chunky'),
            {'Content-Type': 'application/json'}, chunked=True)
        self.assertEqual(200, response.status_int, response.body[:200])
        self.assertEqual('chunky', response.json['aggregate']['name'])

    def test_the_limit_is_configurable(self):
        self.conf_fixture.config(max_request_body_size=64, group='api')
        response = self.request('POST', self.PREFIX + AGGREGATES,
                                _create(name='x' * 60))
        self.assertFault(response, 413, 'overLimit',
                         'larger than the limit of 64 bytes')
        self.assertUnchanged()
        body = self.json_request('POST', self.PREFIX + AGGREGATES,
                                 _create(name='small'))
        self.assertEqual('small', body['aggregate']['name'])

    # -- metadata items -----------------------------------------------------

    def test_ten_thousand_metadata_keys(self):
        keys = itertools.chain.from_iterable(
            itertools.product(string.ascii_uppercase + string.digits,
                              repeat=length) for length in (1, 2, 3))
        metadata = {''.join(key): '' for key in
                    itertools.islice(keys, 10000)}
        self.assertEqual(10000, len(metadata))
        # Plus availability_zone and k.
        self.assertRefused('POST', self.PREFIX + ACTION, _metadata(metadata),
                           None, 400, 'badRequest',
                           'Aggregate 1 would hold 10002 metadata items; '
                           'the limit is 128.')

    def test_metadata_over_max_items(self):
        # agg1 holds availability_zone and k: 126 more reach the limit.
        self.assertRefused('POST', self.PREFIX + ACTION,
                           _metadata({'m%d' % i: 'v' for i in range(127)}),
                           None, 400, 'badRequest',
                           'would hold 129 metadata items; the limit is 128')
        body = self.action(1, 'set_metadata', {'metadata': {
            'm%d' % i: 'v' for i in range(126)}}, prefix=self.PREFIX)
        self.assertEqual(128, len(body['aggregate']['metadata']))
        self.before = self.snapshot()
        self.assertRefused('POST', self.PREFIX + ACTION,
                           _metadata({'one-more': 'v'}), None, 400,
                           'badRequest', 'the limit is 128')

    def test_metadata_limit_counts_removals(self):
        body = self.action(1, 'set_metadata', {'metadata': {
            'm%d' % i: 'v' for i in range(126)}}, prefix=self.PREFIX)
        self.assertEqual(128, len(body['aggregate']['metadata']))
        body = self.action(1, 'set_metadata', {'metadata': {
            'm0': None, 'new': 'v'}}, prefix=self.PREFIX)
        self.assertIn('new', body['aggregate']['metadata'])
        self.assertEqual(128, len(body['aggregate']['metadata']))

    def test_max_metadata_items_is_configurable(self):
        self.conf_fixture.config(max_aggregate_metadata_items=3, group='api')
        self.assertRefused('POST', self.PREFIX + ACTION,
                           _metadata({'a': '1', 'b': '2'}), None, 400,
                           'badRequest',
                           'would hold 4 metadata items; the limit is 3')
        body = self.action(1, 'set_metadata', {'metadata': {'a': '1'}},
                           prefix=self.PREFIX)
        self.assertEqual({'availability_zone': 'az1', 'k': 'v', 'a': '1'},
                         body['aggregate']['metadata'])


for _name, _case in REFUSED.items():
    setattr(ValidationTests, 'test_refuses_' + _name, _refused(_case))


class TestValidationV21(ValidationTests, base.APITestCase):

    PREFIX = '/v2.1'

    def test_xml_is_not_spoken_here(self):
        for content_type in ('application/xml',
                             'application/vnd.openstack.compute+xml'):
            self.assertRefused('POST', self.PREFIX + AGGREGATES,
                               '<aggregate name="x"/>', content_type, 415,
                               'badMediaType', 'Unsupported Content-Type')

    def test_id_is_not_an_integer(self):
        for value in ('abc', '1.5', '1e3', '0x1', '%20'):
            self.assertRefused('GET', self.PREFIX + AGGREGATES + '/' + value,
                               None, None, 400, 'badRequest',
                               'must be an integer')

    def test_project_of_another_caller(self):
        self.assertRefused('POST', '/v2.1/other' + AGGREGATES,
                           _create(name='x'), None, 400, 'badRequest',
                           'Malformed request url')
        self.assertRefused('POST', '/v2.1/other' + ACTION,
                           {'add_host': {'host': 'host2'}}, None, 400,
                           'badRequest', 'Malformed request url')


class TestValidationLegacy(ValidationTests, base.APITestCase):

    PREFIX = '/v1.1/admin'

    def test_id_is_not_an_integer(self):
        for value in ('abc', '1.5', '1e3', '0x1', '%20'):
            self.assertRefused('GET', self.PREFIX + AGGREGATES + '/' + value,
                               None, None, 404, 'itemNotFound',
                               'could not be found')

    def test_project_of_another_caller(self):
        for prefix in ('/v1.1/other', '/v2/other'):
            self.assertRefused('POST', prefix + AGGREGATES,
                               _create(name='x'), None, 400, 'badRequest',
                               'Malformed request url')
            self.assertRefused('PUT', prefix + ONE, _create(name='x'),
                               None, 400, 'badRequest',
                               'Malformed request url')

    def test_invalid_utf8_in_xml(self):
        self.assertRefused('POST', self.PREFIX + AGGREGATES,
                           b'<aggregate name="caf\xe9"/>', 'application/xml',
                           400, 'badRequest', 'Malformed request body')

    def test_xml_with_control_characters(self):
        self.assertRefused('POST', self.PREFIX + AGGREGATES,
                           '<aggregate name="a&#x1;b"/>', 'application/xml',
                           400, 'badRequest', 'Malformed request body')
        self.assertRefused('POST', self.PREFIX + AGGREGATES,
                           '<aggregate name="a&#9;b"/>', 'application/xml',
                           400, 'badRequest', 'unprintable')

    def test_xml_nested_deeply(self):
        self.assertRefused('POST', self.PREFIX + AGGREGATES,
                           '<a>' * 15000 + '</a>' * 15000, 'application/xml',
                           400, 'badRequest', 'nested too deeply')
        self.assertRefused('POST', self.PREFIX + AGGREGATES,
                           '<a>' * 900 + '</a>' * 900, 'application/xml',
                           400, 'badRequest', 'nested too deeply')


class TestXMLSafety(base.APITestCase):
    """XML is parsed with no entity expansion and no external entities."""

    def assertRefusedXML(self, body):
        response = self.request('POST', '/v1.1/admin/os-aggregates', body,
                                content_type='application/xml')
        self.assertFault(response, 400, 'badRequest',
                         'XML documents with DTDs or entities are not '
                         'accepted.')
        self.assertEqual({'aggregates': []},
                         self.json_request('GET', '/v2.1/os-aggregates'))

    def test_billion_laughs(self):
        entities = ['<!ENTITY lol0 "lol">'] + [
            '<!ENTITY lol%d "%s">' % (i, '&lol%d;' % (i - 1) * 10)
            for i in range(1, 10)]
        self.assertRefusedXML('<?xml version="1.0"?><!DOCTYPE lolz [%s]>'
                              '<aggregate name="&lol9;"/>'
                              % ''.join(entities))

    def test_quadratic_blowup(self):
        self.assertRefusedXML('<!DOCTYPE a [<!ENTITY x "%s">]><aggregate '
                              'name="%s"/>' % ('x' * 10000, '&x;' * 1000))

    def test_external_entity(self):
        self.assertRefusedXML('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY '
                              'xxe SYSTEM "file:///etc/passwd">]>'
                              '<aggregate name="&xxe;"/>')

    def test_parameter_entity(self):
        self.assertRefusedXML('<!DOCTYPE a [<!ENTITY % p SYSTEM '
                              '"http://127.0.0.1:9/x.dtd"> %p;]>'
                              '<aggregate name="x"/>')

    def test_external_dtd(self):
        self.assertRefusedXML('<?xml version="1.0"?><!DOCTYPE aggregate '
                              'SYSTEM "http://127.0.0.1:9/evil.dtd">'
                              '<aggregate name="x"/>')

    def test_internal_entity(self):
        self.assertRefusedXML('<!DOCTYPE a [<!ENTITY n "agg">]>'
                              '<aggregate name="&n;"/>')
