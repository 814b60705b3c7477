"""Microversions of the v2.1 surface: which version a request gets, the
headers every response (faults included) carries, and the exact fields of
aggregate bodies at each version and on the legacy surface."""

import fixtures

from tests import base
from tests.functional import test_aggregates_v21 as v21

MAX = '2.41'
VARY = 'OpenStack-API-Version, X-OpenStack-Nova-API-Version'


def _new(version):
    return {'OpenStack-API-Version': 'compute %s' % version}


def _old(version):
    return {'X-OpenStack-Nova-API-Version': version}


class TestMicroversions(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')
        self.json_request('POST', '/v2.1/os-aggregates',
                          {'aggregate': {'name': 'agg1'}})

    def assertVersion(self, response, version):
        self.assertEqual('compute %s' % version,
                         response.headers.get('OpenStack-API-Version'))
        self.assertEqual(version,
                         response.headers.get('X-OpenStack-Nova-API-Version'))
        self.assertEqual(VARY, response.headers.get('Vary'))

    def assertNoVersion(self, response):
        self.assertNotIn('OpenStack-API-Version', response.headers)
        self.assertNotIn('X-OpenStack-Nova-API-Version', response.headers)

    def get(self, headers, path='/v2.1/os-aggregates/1'):
        return self.request('GET', path, headers=headers)

    # -- choosing the version -----------------------------------------------

    def test_default_is_2_1(self):
        response = self.get({})
        self.assertEqual(200, response.status_int)
        self.assertVersion(response, '2.1')
        self.assertNotIn('uuid', response.json['aggregate'])

    def test_new_header(self):
        for version in ('2.1', '2.2', '2.40', '2.41'):
            response = self.get(_new(version))
            self.assertEqual(200, response.status_int, version)
            self.assertVersion(response, version)

    def test_old_header(self):
        for version in ('2.1', '2.40', '2.41'):
            response = self.get(_old(version))
            self.assertEqual(200, response.status_int, version)
            self.assertVersion(response, version)

    def test_new_header_wins_over_the_old_one(self):
        headers = dict(_new('2.41'), **_old('2.1'))
        response = self.get(headers)
        self.assertVersion(response, '2.41')
        self.assertIn('uuid', response.json['aggregate'])

    def test_new_header_names_several_services(self):
        response = self.get({'OpenStack-API-Version':
                             'image 2.9, compute 2.41, volume 3.1'})
        self.assertVersion(response, '2.41')

    def test_new_header_for_another_service_only(self):
        response = self.get({'OpenStack-API-Version': 'image 2.9'})
        self.assertEqual(200, response.status_int)
        self.assertVersion(response, '2.1')

    def test_service_name_is_case_insensitive(self):
        self.assertVersion(self.get({'OpenStack-API-Version':
                                     'Compute 2.41'}), '2.41')

    def test_latest(self):
        for headers in (_new('latest'), _old('latest'), _new('LATEST'),
                        _old(' latest ')):
            response = self.get(headers)
            self.assertEqual(200, response.status_int, headers)
            self.assertVersion(response, MAX)
            self.assertIn('uuid', response.json['aggregate'])

    def test_malformed(self):
        for headers in (_new('2'), _new('2.x'), _new('two.one'),
                        _new('2.1.1'), _new('02.1'), _new('2.01'),
                        _new('-2.1'), _new('2.'), _new(''), _old('2'),
                        _old('v2.1'), _old('2,1'), _old(''),
                        {'OpenStack-API-Version': 'compute'},
                        {'OpenStack-API-Version': 'compute 2.1 2.2'}):
            response = self.get(headers)
            self.assertFault(response, 400, 'badRequest',
                             'is not valid; use the form X.Y or "latest"')
            # Nothing was served at any version: none is named.
            self.assertNoVersion(response)

    def test_out_of_range(self):
        for version in ('2.0', '2.42', '2.81', '3.0', '1.1', '9999.9999'):
            for headers in (_new(version), _old(version)):
                response = self.get(headers)
                message = self.assertFault(response, 406, 'notAcceptable',
                                           'Version %s is not supported'
                                           % version)
                self.assertIn('Minimum is 2.1 and maximum is %s' % MAX,
                              message)
                # The version asked for is echoed, never one not used.
                self.assertVersion(response, version)

    def test_the_version_document_advertises_the_range(self):
        response = self.request('GET', '/v2.1', token=None)
        doc = response.json['version']
        self.assertEqual((MAX, '2.1'), (doc['version'], doc['min_version']))
        self.assertVersion(response, '2.1')

    # -- echo on every response ---------------------------------------------

    def test_echo_on_every_kind_of_response(self):
        self.json_request('POST', '/v2.1/os-aggregates/1/action',
                          {'add_host': {'host': 'host1'}})
        self.json_request('POST', '/v2.1/os-aggregates',
                          {'aggregate': {'name': 'agg2'}})
        cases = [
            ('GET', '/v2.1', None, {}, 200),
            ('GET', '/v2.1/', None, {}, 200),
            ('GET', '/v2.1/extensions', None, {}, 200),
            ('GET', '/v2.1/os-aggregates', None, {}, 200),
            ('POST', '/v2.1/os-aggregates', {'aggregate': {'name': 'a3'}},
             {}, 200),
            ('DELETE', '/v2.1/os-aggregates/3', None, {}, 200),
            ('PUT', '/v2.1/os-aggregates/2', {'aggregate': {'name': 'a2'}},
             {}, 200),
            ('GET', '/v2.1/os-aggregates/x', None, {}, 400),
            ('POST', '/v2.1/os-aggregates', '{', {}, 400),
            ('GET', '/v2.1/os-aggregates', None, {'token': None}, 401),
            ('GET', '/v2.1/os-aggregates', None, {'token': 'bob:bob'}, 403),
            ('GET', '/v2.1/os-aggregates/99', None, {}, 404),
            ('GET', '/v2.1/nowhere', None, {}, 404),
            ('DELETE', '/v2.1/os-aggregates', None, {}, 405),
            ('POST', '/v2.1/os-aggregates/1/action',
             {'add_host': {'host': 'host1'}}, {}, 409),
            ('POST', '/v2.1/os-aggregates', 'x' * 200000, {}, 413),
            ('POST', '/v2.1/os-aggregates', '<a/>',
             {'content_type': 'application/xml'}, 415),
        ]
        for version in ('2.1', '2.41'):
            if version == '2.41':
                # ids are never reused: the second round deletes its own.
                cases[5] = ('DELETE', '/v2.1/os-aggregates/4', None, {}, 200)
            for method, path, body, kwargs, status in cases:
                response = self.request(method, path, body,
                                        headers=_new(version), **kwargs)
                self.assertEqual(status, response.status_int,
                                 (method, path, response.body))
                self.assertVersion(response, version)

    def test_echo_on_a_server_error(self):
        logger = self.useFixture(fixtures.FakeLogger())
        with self.api.db.engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE aggregate_metadata')
        response = self.request('GET', '/v2.1/os-aggregates',
                                headers=_new('2.41'))
        message = self.assertFault(response, 500, 'computeFault')
        self.assertEqual('The server has either erred or is incapable of '
                         'performing the requested operation.', message)
        self.assertNotIn(b'aggregate_metadata', response.body)
        self.assertVersion(response, '2.41')
        self.assertIn('Unexpected error on GET /v2.1/os-aggregates',
                      logger.output)

    def test_no_version_headers_on_the_legacy_surface(self):
        for headers in ({}, _new('2.41'), _new('9.9'), _old('bogus')):
            response = self.request('GET', '/v1.1/admin/os-aggregates/1',
                                    headers=headers)
            self.assertEqual(200, response.status_int, headers)
            self.assertNotIn('OpenStack-API-Version', response.headers)
            self.assertNotIn('X-OpenStack-Nova-API-Version', response.headers)
            self.assertEqual(v21.FIELDS | {'operational_state'},
                             set(response.json['aggregate']))


class TestBodiesByVersion(base.APITestCase):
    """Exact field sets: v2.1 has the contract's fields (``uuid`` from
    2.41), legacy adds ``operational_state``; create omits hosts and
    metadata."""

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')

    def bodies(self, prefix, headers):
        """One body of each operation that returns an aggregate, with the
        fields each must have."""
        def call(method, path, body=None):
            return self.json_request(method, prefix + path, body,
                                     headers=headers)
        created = call('POST', '/os-aggregates',
                       {'aggregate': {'name': 'agg1',
                                      'availability_zone': 'az1'}})
        agg_id = created['aggregate']['id']
        one = '/os-aggregates/%s' % agg_id
        action = one + '/action'
        return [
            ('create', created['aggregate'], v21.CREATE_FIELDS),
            ('show', call('GET', one)['aggregate'], v21.FIELDS),
            ('index', call('GET', '/os-aggregates')['aggregates'][0],
             v21.FIELDS),
            ('update', call('PUT', one, {'aggregate': {'name': 'agg2'}})[
                'aggregate'], v21.FIELDS),
            ('add_host', call('POST', action, {'add_host': {
                'host': 'host1'}})['aggregate'], v21.FIELDS),
            ('set_metadata', call('POST', action, {'set_metadata': {
                'metadata': {'k': 'v'}}})['aggregate'], v21.FIELDS),
            ('remove_host', call('POST', action, {'remove_host': {
                'host': 'host1'}})['aggregate'], v21.FIELDS),
        ]

    def test_fields_below_2_41(self):
        for version in ('2.1', '2.40'):
            self.setUp_fresh()
            for operation, body, fields in self.bodies('/v2.1',
                                                       _new(version)):
                self.assertEqual(fields, set(body), (version, operation))

    def test_fields_at_2_41_and_latest(self):
        uuids = set()
        for headers in (_new('2.41'), _old('latest')):
            self.setUp_fresh()
            for operation, body, fields in self.bodies('/v2.1', headers):
                self.assertEqual(fields | {'uuid'}, set(body), operation)
                self.assertRegex(body['uuid'], '^[0-9a-f]{8}-[0-9a-f]{4}-'
                                 '[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
                uuids.add(body['uuid'])
        # One per aggregate: stable across operations, unique across them.
        self.assertEqual(2, len(uuids))

    def test_fields_of_the_legacy_surface(self):
        for prefix in ('/v1.1/admin', '/v2/admin'):
            self.setUp_fresh()
            for operation, body, fields in self.bodies(prefix, _new('2.41')):
                self.assertEqual(fields | {'operational_state'}, set(body),
                                 (prefix, operation))

    def setUp_fresh(self):
        """Delete what a previous round created."""
        for agg in self.json_request('GET', '/v2.1/os-aggregates')[
                'aggregates']:
            for host in agg['hosts']:
                self.action(agg['id'], 'remove_host', {'host': host})
            self.json_request('DELETE', '/v2.1/os-aggregates/%s' % agg['id'])
