"""Authentication (noauth2 and keystone headers) and policy: one rule per
operation, admin only by default, changeable by the operator's policy
file."""

import os

import fixtures

from nova_aggregates import policy
from tests import base

# operation: (method, path below the surface, body)
OPERATIONS = {
    'index': ('GET', '/os-aggregates', None),
    'create': ('POST', '/os-aggregates', {'aggregate': {'name': 'new'}}),
    'show': ('GET', '/os-aggregates/1', None),
    'update': ('PUT', '/os-aggregates/1', {'aggregate': {'name': 'new'}}),
    'delete': ('DELETE', '/os-aggregates/1', None),
    'add_host': ('POST', '/os-aggregates/1/action',
                 {'add_host': {'host': 'host2'}}),
    'remove_host': ('POST', '/os-aggregates/1/action',
                    {'remove_host': {'host': 'host1'}}),
    'set_metadata': ('POST', '/os-aggregates/1/action',
                     {'set_metadata': {'metadata': {'k': 'v2'}}}),
}
DENIED = "Policy doesn't allow os_compute_api:os-aggregates:%s to be " \
         "performed."


class PolicyTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')
        self.api.register_host('host2')
        self.seed()

    def seed(self):
        self.create_aggregate('agg1', 'az1')
        self.action(1, 'add_host', {'host': 'host1'})
        self.action(1, 'set_metadata', {'metadata': {'k': 'v'}})

    def snapshot(self):
        return self.json_request('GET', '/v2.1/os-aggregates', headers={
            'OpenStack-API-Version': 'compute latest'})['aggregates']

    def write_policy(self, text):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'policy.yaml')
        with open(path, 'w') as f:
            f.write(text)
        # The enforcer registers [oslo_policy]; a new one reads the file.
        policy.get_enforcer()
        self.conf_fixture.config(policy_file=path, group='oslo_policy')
        policy.reset()


class TestNoAuth2(PolicyTestCase):

    def test_no_token(self):
        before = self.snapshot()
        for prefix in ('/v2.1', '/v2.1/admin', '/v1.1/admin', '/v2/admin'):
            for operation, (method, path, body) in OPERATIONS.items():
                response = self.request(method, prefix + path, body,
                                        token=None)
                self.assertFault(response, 401, 'unauthorized',
                                 'Authentication required')
        self.assertEqual(before, self.snapshot())

    def test_malformed_tokens(self):
        for token in (':', 'bob:', ':proj', ' '):
            response = self.request('GET', '/v2.1/os-aggregates',
                                    token=token)
            self.assertEqual(401, response.status_int, token)
            self.assertIn(b'unauthorized', response.body)

    def test_non_admin_is_denied_every_operation(self):
        before = self.snapshot()
        for prefix, token in (('/v2.1', 'bob:bob'),
                              ('/v2.1/bob', 'bob:bob'),
                              ('/v2.1', 'notused'),
                              ('/v1.1/bob', 'bob:bob'),
                              ('/v2/proj', 'bob:proj'),
                              ('/v1.1/admin', 'bob:admin')):
            for operation, (method, path, body) in OPERATIONS.items():
                response = self.request(method, prefix + path, body,
                                        token=token)
                message = self.assertFault(response, 403, 'forbidden')
                self.assertEqual(DENIED % operation, message,
                                 (prefix, operation))
        self.assertEqual(before, self.snapshot())

    def test_non_admin_is_denied_in_xml(self):
        response = self.request('GET', '/v1.1/bob/os-aggregates/1.xml',
                                token='bob:bob')
        self.assertXMLFault(response, 403, 'forbidden', DENIED % 'show')

    def test_denied_even_for_a_missing_aggregate(self):
        response = self.request('GET', '/v2.1/os-aggregates/999',
                                token='bob:bob')
        self.assertFault(response, 403, 'forbidden', DENIED % 'show')

    def test_host_inventory_is_admin_only(self):
        for path, rule in (('/v2.1/os-hosts', 'os-hosts:list'),
                           ('/v1.1/bob/os-hosts', 'os-hosts:list'),
                           ('/v2.1/os-services', 'os-services:list')):
            response = self.request('GET', path, token='bob:bob')
            self.assertFault(response, 403, 'forbidden',
                             "Policy doesn't allow os_compute_api:%s to be "
                             "performed." % rule)

    def test_host_matching_is_admin_only(self):
        for prefix in ('/v2.1', '/v1.1/bob'):
            response = self.request('POST', prefix + '/os-host-matching',
                                    {'request': {}}, token='bob:bob')
            self.assertFault(response, 403, 'forbidden',
                             "Policy doesn't allow os_compute_api:"
                             "os-host-matching:create to be performed.")
        self.write_policy('"os_compute_api:os-host-matching:create": "@"\n')
        body = self.json_request('POST', '/v2.1/os-host-matching',
                                 {'request': {}}, token='bob:bob')
        self.assertEqual(['host1', 'host2'],
                         [h['host'] for h in body['hosts']])

    def test_admin_may_do_everything(self):
        for operation in ('index', 'show', 'create', 'set_metadata',
                          'remove_host', 'add_host'):
            method, path, body = OPERATIONS[operation]
            self.json_request(method, '/v2.1' + path, body)
        self.action(1, 'remove_host', {'host': 'host2'})
        self.json_request('DELETE', '/v2.1/os-aggregates/1')
        self.json_request('PUT', '/v2.1/os-aggregates/2',
                          {'aggregate': {'name': 'renamed'}})
        self.assertEqual(['renamed'], [a['name'] for a in self.snapshot()])

    def test_policy_file_opens_one_operation(self):
        self.write_policy('"os_compute_api:os-aggregates:index": "@"\n')
        body = self.json_request('GET', '/v2.1/os-aggregates',
                                 token='bob:bob')
        self.assertEqual(['agg1'], [a['name'] for a in body['aggregates']])
        for operation in ('show', 'create'):
            method, path, body = OPERATIONS[operation]
            response = self.request(method, '/v2.1' + path, body,
                                    token='bob:bob')
            self.assertFault(response, 403, 'forbidden', DENIED % operation)

    def test_policy_file_closes_one_operation_to_admins(self):
        self.write_policy('"os_compute_api:os-aggregates:delete": "!"\n')
        self.action(1, 'remove_host', {'host': 'host1'})
        response = self.request('DELETE', '/v2.1/os-aggregates/1')
        self.assertFault(response, 403, 'forbidden', DENIED % 'delete')
        self.json_request('GET', '/v2.1/os-aggregates/1')


class TestKeystone(PolicyTestCase):
    """``[api] auth_strategy = keystone``: identity from what
    keystonemiddleware's auth_token found in the token (tokens from its
    test fixture here; tests/functional/keystone uses a real Keystone)."""

    config_overrides = {('api', 'auth_strategy'): 'keystone'}

    def identity(self, roles='admin', user='u1', project='p1'):
        return {'X-Auth-Token': self.api.keystone.token(roles, user,
                                                        project)}

    def keystone_request(self, method, path, body=None, **identity):
        return self.request(method, path, body, token=None,
                            headers=self.identity(**identity))

    def seed(self):
        # noauth2 is gone: seed through the manager's callers' API.
        for method, path, body in (
                ('POST', '/v2.1/os-aggregates',
                 {'aggregate': {'name': 'agg1', 'availability_zone': 'az1'}}),
                ('POST', '/v2.1/os-aggregates/1/action',
                 {'add_host': {'host': 'host1'}}),
                ('POST', '/v2.1/os-aggregates/1/action',
                 {'set_metadata': {'metadata': {'k': 'v'}}})):
            response = self.keystone_request(method, path, body)
            self.assertEqual(200, response.status_int, response.body)

    def snapshot(self):
        response = self.request('GET', '/v2.1/os-aggregates', token=None,
                                headers=dict(self.identity(), **{
                                    'OpenStack-API-Version':
                                        'compute latest'}))
        self.assertEqual(200, response.status_int, response.body)
        return response.json['aggregates']

    def test_admin_role(self):
        response = self.keystone_request('GET', '/v2.1/os-aggregates/1',
                                         roles='member, admin')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('agg1', response.json['aggregate']['name'])
        response = self.keystone_request('GET', '/v1.1/p1/os-aggregates/1')
        self.assertEqual('active',
                         response.json['aggregate']['operational_state'])

    def test_missing_or_invalid_token_and_unscoped_identity(self):
        before = self.snapshot()
        forged = {'X-Identity-Status': 'Confirmed', 'X-User-Id': 'u1',
                  'X-Project-Id': 'p1', 'X-Roles': 'admin'}
        for method, path, body in OPERATIONS.values():
            for headers in ({}, {'X-Auth-Token': 'no-such-token'}, forged,
                            dict(forged, **{'X-Auth-Token': 'nope'})):
                # auth_token refused it: a compute fault, naming Keystone.
                response = self.request(method, '/v2.1' + path, body,
                                        token=None, headers=headers)
                self.assertFault(response, 401, 'unauthorized',
                                 'send a valid Keystone token')
                self.assertIn('keystone.invalid',
                              response.headers['WWW-Authenticate'])
            # A valid token scoped to no project names no caller.
            response = self.keystone_request(method, '/v2.1' + path, body,
                                             project=None)
            self.assertFault(response, 401, 'unauthorized',
                             'Authentication required')
        self.assertEqual(before, self.snapshot())

    def test_refusals_on_the_legacy_surface_are_xml_when_asked(self):
        response = self.request('GET', '/v1.1/p1/os-aggregates.xml',
                                token=None,
                                headers={'X-Auth-Token': 'no-such-token'})
        self.assertXMLFault(response, 401, 'unauthorized',
                            'send a valid Keystone token')
        self.assertIn('keystone.invalid',
                      response.headers['WWW-Authenticate'])

    def test_forged_admin_role_with_a_member_token(self):
        before = self.snapshot()
        for operation, (method, path, body) in OPERATIONS.items():
            response = self.request(
                method, '/v2.1' + path, body, token=None,
                headers=dict(self.identity(roles='member'), **{
                    'X-Roles': 'admin', 'X-Identity-Status': 'Confirmed',
                    'X-Project-Id': 'p1', 'X-User-Id': 'admin'}))
            self.assertFault(response, 403, 'forbidden', DENIED % operation)
        self.assertEqual(before, self.snapshot())

    def test_a_noauth2_token_is_not_an_identity(self):
        response = self.request('GET', '/v2.1/os-aggregates',
                                token='admin:admin')
        self.assertFault(response, 401, 'unauthorized')

    def test_member_is_denied_every_operation(self):
        before = self.snapshot()
        for prefix in ('/v2.1', '/v1.1/p1'):
            for operation, (method, path, body) in OPERATIONS.items():
                response = self.keystone_request(method, prefix + path, body,
                                                 roles='member,reader')
                message = self.assertFault(response, 403, 'forbidden')
                self.assertEqual(DENIED % operation, message)
        self.assertEqual(before, self.snapshot())

    def test_project_of_the_url_must_be_the_callers(self):
        response = self.keystone_request('GET', '/v1.1/p2/os-aggregates')
        self.assertFault(response, 400, 'badRequest', 'Malformed request url')

    def test_policy_file_grants_one_operation_to_a_custom_role(self):
        self.write_policy(
            '"os_compute_api:os-aggregates:set_metadata": '
            '"role:aggregate_tagger or rule:context_is_admin"\n')
        before = self.snapshot()
        response = self.keystone_request(
            'POST', '/v2.1/os-aggregates/1/action',
            {'set_metadata': {'metadata': {'tag': 'gpu'}}},
            roles='aggregate_tagger')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual({'availability_zone': 'az1', 'k': 'v', 'tag': 'gpu'},
                         response.json['aggregate']['metadata'])
        for operation in OPERATIONS:
            if operation == 'set_metadata':
                continue
            method, path, body = OPERATIONS[operation]
            response = self.keystone_request(method, '/v2.1' + path, body,
                                             roles='aggregate_tagger')
            self.assertFault(response, 403, 'forbidden', DENIED % operation)
        after = self.snapshot()
        self.assertEqual({'availability_zone': 'az1', 'k': 'v', 'tag': 'gpu'},
                         after[0]['metadata'])
        self.assertEqual(before[0]['hosts'], after[0]['hosts'])
        # Admins keep what the file did not take away.
        response = self.keystone_request(
            'POST', '/v2.1/os-aggregates/1/action',
            {'set_metadata': {'metadata': {'tag': None}}})
        self.assertEqual(200, response.status_int, response.body)
