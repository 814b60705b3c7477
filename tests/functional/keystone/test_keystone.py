"""``[api] auth_strategy = keystone`` end to end: tokens issued over HTTP by
a real Keystone, validated by keystonemiddleware's auth_token in the real
``nova-aggregates-api``, on the microversioned and the 2012 surfaces.

Keystone, the API server and the ``openstack`` client each cost seconds:
one Keystone and one API server serve a whole class (see
``fixtures.KeystoneTestCase``): ``TestKeystoneTokens`` (tokens over HTTP,
and ``openstack aggregate ...`` with password authentication through the
catalog) and ``TestExpiredToken`` (a Keystone whose tokens live seconds).
Tests never depend on each other's aggregates (names are unique per test).
"""

import datetime
import os
import subprocess
import time
import uuid

from tests.functional.clients import server
from tests.functional.keystone import fixtures as ks_fixtures

ADMIN = ks_fixtures.ADMIN
MEMBER = ks_fixtures.MEMBER
LEGACY_REGION = 'LegacyRegion'
#: What a client forging an administrator sends along.
FORGED = {'X-Roles': 'admin', 'X-Identity-Status': 'Confirmed',
          'X-Service-Identity-Status': 'Confirmed', 'X-Is-Admin-Project':
          'True', 'X-Role': 'admin'}
DENIED = "Policy doesn't allow os_compute_api:os-aggregates:%s to be " \
         "performed."


def _name(prefix='agg'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class PasswordCLIFixture(server.OpenStackCLIFixture):
    """``openstack`` with OS_AUTH_URL & co. for ``credentials`` (and the
    parent's private HOME, no clouds.yaml, no inherited OS_* variables)."""

    def __init__(self, keystone, credentials, region=ks_fixtures.REGION):
        super().__init__(endpoint=None, token=None, extra_env={
            'OS_REGION_NAME': region,
            'OS_AUTH_URL': keystone.auth_url,
            'OS_IDENTITY_API_VERSION': '3',
            'OS_USERNAME': credentials.username,
            'OS_PASSWORD': credentials.password,
            'OS_PROJECT_NAME': credentials.project,
            'OS_USER_DOMAIN_NAME': 'Default',
            'OS_PROJECT_DOMAIN_NAME': 'Default',
        })

    def run(self, *args, token=None):
        return subprocess.run(
            [os.path.join(server.BIN, 'openstack')] + list(args),
            capture_output=True, text=True, env=self.env, cwd=self.home,
            stdin=subprocess.DEVNULL, timeout=server.COMMAND_TIMEOUT)


class AuthTokenTestCase(ks_fixtures.KeystoneTestCase):

    def call(self, method, path, token=None, body=None, headers=None):
        all_headers = dict(headers or {})
        if token is not None:
            all_headers['X-Auth-Token'] = token
        return ks_fixtures.http(method, self.api.base_url + path, body,
                                all_headers)

    def surfaces(self, project):
        """The prefix of every surface for a caller of ``project`` (the
        2012 URLs name the caller's own project id)."""
        project_id = self.keystone.project_ids[project]
        return ('/v2.1', '/v2.1/' + project_id, '/v1.1/' + project_id,
                '/v2/' + project_id)

    def assertStatus(self, status, response, what=''):
        self.assertEqual(status, response.status,
                         '%s -> %s %s' % (what, response.status,
                                          response.body))

    def assertUnauthorized(self, response, what=''):
        """auth_token's 401 as a compute fault, naming the Keystone to
        ask."""
        self.assertStatus(401, response, what)
        self.assertEqual(['unauthorized'], list(response.body), what)
        self.assertEqual('Keystone uri="%s"' % self.keystone.auth_url,
                         response.headers.get('WWW-Authenticate'), what)

    def assertForbidden(self, response, operation, what=''):
        self.assertStatus(403, response, what)
        self.assertEqual({'forbidden': {'code': 403,
                                        'message': DENIED % operation}},
                         response.body, what)

    def list_names(self, prefix, token):
        response = self.call('GET', prefix + '/os-aggregates', token)
        self.assertStatus(200, response, prefix)
        return [agg['name'] for agg in response.body['aggregates']]


class TestKeystoneTokens(AuthTokenTestCase):

    @classmethod
    def set_up_class(cls):
        cls.admin_token = cls.keystone.issue_token(ADMIN)[0]
        cls.member_token = cls.keystone.issue_token(MEMBER)[0]
        # For openstackclient: the compute endpoint in the catalog, and in
        # a second region the 2012 form Nova's catalogs had.
        service = cls.keystone.register_endpoint('compute', 'nova',
                                                 cls.api.endpoint('/v2.1'))
        cls.keystone.add_endpoint(
            service, cls.api.endpoint('/v1.1/$(project_id)s'),
            region=LEGACY_REGION)

    def test_admin_token_creates_and_lists_on_every_surface(self):
        for prefix in self.surfaces(ADMIN.project):
            name = _name()
            response = self.call('POST', prefix + '/os-aggregates',
                                 self.admin_token, {'aggregate': {
                                     'name': name,
                                     'availability_zone': 'az1'}})
            self.assertStatus(200, response, prefix)
            self.assertEqual(name, response.body['aggregate']['name'])
            self.assertIn(name, self.list_names(prefix, self.admin_token))

    def test_member_token_is_forbidden_on_every_surface(self):
        for prefix in self.surfaces(MEMBER.project):
            self.assertForbidden(self.call(
                'GET', prefix + '/os-aggregates', self.member_token),
                'index', prefix)
            self.assertForbidden(self.call(
                'POST', prefix + '/os-aggregates', self.member_token,
                {'aggregate': {'name': _name()}}), 'create', prefix)

    def test_the_project_in_a_2012_url_must_be_the_tokens(self):
        # The admin's token, the member's project in the URL.
        other = self.keystone.project_ids[MEMBER.project]
        for prefix in ('/v1.1/' + other, '/v2/' + other, '/v2.1/' + other):
            response = self.call('GET', prefix + '/os-aggregates',
                                 self.admin_token)
            self.assertStatus(400, response, prefix)

    def test_no_token_is_unauthorized(self):
        for prefix in self.surfaces(ADMIN.project):
            self.assertUnauthorized(self.call(
                'GET', prefix + '/os-aggregates'), prefix)

    def test_invalid_tokens_are_unauthorized(self):
        garbage = ('not-a-token', 'gAAAAAB' + 'x' * 180,
                   self.admin_token[:-4] + 'AAAA')
        for prefix in self.surfaces(ADMIN.project):
            for token in garbage:
                self.assertUnauthorized(self.call(
                    'GET', prefix + '/os-aggregates', token), prefix)

    def test_revoked_token_is_unauthorized(self):
        token = self.keystone.issue_token(ADMIN)[0]
        surfaces = self.surfaces(ADMIN.project)
        for prefix in surfaces:
            self.list_names(prefix, token)
        self.keystone.revoke(token)
        for prefix in surfaces:
            self.assertUnauthorized(self.call(
                'GET', prefix + '/os-aggregates', token), prefix)
        # The admin's other tokens still work.
        self.list_names('/v2.1', self.admin_token)

    def test_forged_identity_with_a_member_token_is_forbidden(self):
        forged = dict(FORGED, **{
            'X-User-Id': self.keystone.user_ids['member'],
            'X-Project-Id': self.keystone.project_ids[ADMIN.project],
            'X-Tenant-Id': self.keystone.project_ids[ADMIN.project]})
        for prefix in self.surfaces(MEMBER.project):
            response = self.call('POST', prefix + '/os-aggregates',
                                 self.member_token,
                                 {'aggregate': {'name': _name('forged')}},
                                 headers=forged)
            self.assertForbidden(response, 'create', prefix)
            response = self.call('GET', prefix + '/os-aggregates',
                                 self.member_token, headers=forged)
            self.assertForbidden(response, 'index', prefix)
        # Nor does naming the forged project in a 2012 URL get anywhere.
        for prefix in self.surfaces(ADMIN.project)[1:]:
            response = self.call('GET', prefix + '/os-aggregates',
                                 self.member_token, headers=forged)
            self.assertNotEqual(200, response.status, prefix)
            self.assertIn(response.status, (400, 403), prefix)
        self.assertNotIn('forged', ' '.join(
            self.list_names('/v2.1', self.admin_token)))

    def test_forged_identity_without_a_token_is_unauthorized(self):
        forged = dict(FORGED, **{
            'X-User-Id': self.keystone.user_ids['member'],
            'X-Project-Id': self.keystone.project_ids[ADMIN.project]})
        for prefix in self.surfaces(ADMIN.project):
            for method, body in (('GET', None), ('POST', {'aggregate': {
                    'name': _name('forged')}})):
                self.assertUnauthorized(self.call(
                    method, prefix + '/os-aggregates', body=body,
                    headers=forged), prefix)
        # auth_token refused them; keystonecontext never saw a request
        # that had not passed through it (the packaged pipelines are right).
        self.assertNotIn('must run before keystonecontext',
                         self.api.output())

    def test_version_documents_need_no_token(self):
        for path in ('/', '/v2.1', '/v2.1/', '/v1.1/', '/v2/'):
            for token in (None, 'not-a-token'):
                response = self.call('GET', path, token)
                self.assertStatus(200, response, path)
                self.assertTrue({'version', 'versions'} & set(response.body),
                                path)

    # openstackclient with password authentication and the compute
    # endpoint found in Keystone's catalog (no --os-endpoint, no
    # clouds.yaml).
    def cli(self, credentials, region=ks_fixtures.REGION):
        return self.useFixture(PasswordCLIFixture(self.keystone, credentials,
                                                  region))

    def test_openstack_client_with_a_2012_catalog_endpoint(self):
        # /v1.1/{project_id} in the catalog: version discovery from there
        # leads the client to /v2.1, no endpoint override needed.
        cli = self.cli(ADMIN, region=LEGACY_REGION)
        name = _name('legacy-cli')
        created = cli.json('aggregate', 'create', '--zone', 'az2', name)
        self.assertEqual((name, 'az2'),
                         (created['name'], created['availability_zone']))
        self.assertIn(name, [row['Name']
                             for row in cli.json('aggregate', 'list')])
        self.assertIn(name, self.list_names('/v2.1', self.admin_token))

    def test_openstack_client_creates_and_lists_as_admin(self):
        cli = self.cli(ADMIN)
        name = _name('cli')
        created = cli.json('aggregate', 'create', '--zone', 'az1', name)
        self.assertEqual((name, 'az1'),
                         (created['name'], created['availability_zone']))
        listed = cli.json('aggregate', 'list')
        self.assertIn(name, [row['Name'] for row in listed])
        # The server holds it (read over HTTP with a token of our own).
        self.assertIn(name, self.list_names('/v2.1', self.admin_token))

    def test_openstack_client_member_is_refused(self):
        stderr = self.cli(MEMBER).fails('aggregate', 'list')
        self.assertIn('403', stderr)
        self.assertIn(DENIED % 'index', stderr)


class TestExpiredToken(AuthTokenTestCase):
    """A Keystone whose tokens live a few seconds."""

    TOKEN_EXPIRATION = 5

    def test_expired_token_is_unauthorized(self):
        token, expires = self.keystone.issue_token(ADMIN)
        surfaces = self.surfaces(ADMIN.project)
        # Valid while it lasts (auth_token validates it with Keystone) ...
        self.list_names('/v2.1', token)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(now, expires)
        time.sleep((expires - now).total_seconds() + 1)
        # ... refused once expired.
        for prefix in surfaces:
            self.assertUnauthorized(self.call(
                'GET', prefix + '/os-aggregates', token), prefix)
        # A new token works: the refusal was the expiry, not the set-up.
        self.list_names('/v2.1', self.keystone.issue_token(ADMIN)[0])
