"""What the real Nova 34 compute API answers before our filter is in it.

``TestNovaBaseline``: Nova's own, untouched ``api-paste.ini`` behind a real
Keystone (Nova 34 has no ``noauth2`` pipeline any more: every authenticated
request goes through keystonemiddleware's ``authtoken``): version
documents, flavors, servers, services, Nova's own os-aggregates (an
aggregate created and a host added over HTTP, then seen by Nova's objects
and mirrored into Placement), a 404, a 403 and a 401.

``TestNovaNoauth2``: the same packaged paste file with ``authtoken`` swapped
for the harness's ``noauth2`` (``X-Auth-Token: user:project``), the
arguments a test passes to the harness (paste text, files, environment),
and what a start that fails reports.

One Keystone and one Nova serve a whole class; tests never depend on each
other's hosts or aggregates (names are unique per test).
"""

import os
import uuid

import fixtures

from tests.functional.keystone import fixtures as ks_fixtures
from tests.support import nova
from tests.support import shared

#: The newest microversion of Nova 34's compute API.
MAX_MICROVERSION = '2.104'
#: What Nova 34 answers for a URL no route of /v2.1 knows (text/plain).
NOT_FOUND_BODY = b'404 Not Found\n\nThe resource could not be found.\n\n   '
MICROVERSION_2_1 = {'OpenStack-API-Version': 'compute 2.1'}
SERVICES_DENIED = ("Policy doesn't allow os_compute_api:os-services:list to "
                   "be performed.")


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class NovaAPITestCase(nova.NovaTestCase):

    def assertStatus(self, status, response, what=''):
        self.assertEqual(status, response.status,
                         '%s -> %r\n%s' % (what, response,
                                           self.nova.nova_server.log_tail(20)))

    def get_json(self, path, status=200, **kwargs):
        response = self.nova.request('GET', path, **kwargs)
        self.assertStatus(status, response, 'GET ' + path)
        return response.json()

    def compute_services(self):
        return self.get_json('/v2.1/os-services?binary=nova-compute')[
            'services']


class TestNovaBaseline(NovaAPITestCase):
    """Nova's packaged api-paste.ini as it is, tokens from a real Keystone."""

    @classmethod
    def check_available(cls):
        super().check_available()
        problem = ks_fixtures.venv_problem()
        if problem:
            shared.unavailable(ks_fixtures.REQUIRED_NAME, problem)

    @classmethod
    def prepare_class(cls):
        cls.keystone = cls.use_class_fixture(ks_fixtures.KeystoneFixture())
        super().prepare_class()
        cls.member_token = cls.keystone.issue_token(ks_fixtures.MEMBER)[0]

    @classmethod
    def nova_kwargs(cls):
        return {'keystone': cls.keystone}

    def test_paste_file_is_novas_own(self):
        with open(self.nova.paste_ini_path) as f:
            self.assertEqual(nova.packaged_paste_ini(), f.read())
        with open(self.nova.nova_conf) as f:
            conf = f.read()
        self.assertIn('api_paste_config = %s' % self.nova.paste_ini_path,
                      conf)
        self.assertIn('[keystone_authtoken]', conf)

    def test_root_version_document(self):
        versions = self.get_json('/', token=None)['versions']
        by_id = {version['id']: version for version in versions}
        self.assertEqual(['v2.0', 'v2.1'], sorted(by_id))
        self.assertEqual('CURRENT', by_id['v2.1']['status'])
        self.assertEqual(MAX_MICROVERSION, by_id['v2.1']['version'])
        self.assertEqual('2.1', by_id['v2.1']['min_version'])
        self.assertEqual('DEPRECATED', by_id['v2.0']['status'])

    def test_v21_version_document(self):
        version = self.get_json('/v2.1', token=None)['version']
        self.assertEqual('v2.1', version['id'])
        self.assertEqual(MAX_MICROVERSION, version['version'])
        self.assertEqual('2.1', version['min_version'])
        self.assertIn({'rel': 'self', 'href': self.nova.url + '/v2.1/'},
                      version['links'])

    def test_flavors(self):
        self.assertIsInstance(self.get_json('/v2.1/flavors')['flavors'],
                              list)

    def test_servers_empty(self):
        self.assertEqual({'servers': []}, self.get_json('/v2.1/servers'))
        self.assertEqual({'servers': []}, self.get_json(
            '/v2.1/servers', token=self.member_token))

    def test_compute_service_listed(self):
        host = _name('compute')
        self.nova.add_compute_service(host)
        services = [s for s in self.compute_services() if s['host'] == host]
        self.assertEqual(1, len(services), self.compute_services())
        service = services[0]
        self.assertEqual('nova-compute', service['binary'])
        self.assertEqual('enabled', service['status'])
        self.assertEqual('up', service['state'])
        # No aggregate puts it anywhere else: Nova's default zone.
        self.assertEqual('nova', service['zone'])

    def test_compute_service_in_zone(self):
        host, zone = _name('compute'), _name('az')
        self.nova.add_compute_service(host, zone=zone)
        service, = [s for s in self.compute_services() if s['host'] == host]
        self.assertEqual(zone, service['zone'])
        self.assertEqual(
            [(zone, [host], {'availability_zone': zone})],
            [(a['name'], a['hosts'], a['metadata'])
             for a in self.nova.aggregates_by_host(host)])

    def test_os_aggregates_is_novas_own(self):
        response = self.nova.request('GET', '/v2.1/os-aggregates')
        self.assertStatus(200, response)
        self.assertIsInstance(response.json()['aggregates'], list)
        # Nova's microversion headers: the request asked for none, 2.1.
        self.assertEqual('compute 2.1',
                         response.headers['OpenStack-API-Version'])

    def test_unknown_url(self):
        response = self.nova.request('GET', '/v2.1/no-such-thing')
        self.assertStatus(404, response)
        self.assertEqual(NOT_FOUND_BODY, response.body)
        self.assertEqual('text/plain; charset=UTF-8',
                         response.headers['Content-Type'])

    def test_services_forbidden_to_member(self):
        response = self.nova.request('GET', '/v2.1/os-services',
                                     token=self.member_token)
        self.assertStatus(403, response)
        self.assertEqual(('forbidden', 403, SERVICES_DENIED),
                         response.fault())

    def test_no_or_bad_token(self):
        for token in (None, 'admin:admin', 'not-a-token'):
            response = self.nova.request('GET', '/v2.1/flavors', token=token)
            self.assertStatus(401, response, token)

    def test_aggregate_host_through_novas_api(self):
        host, name = _name('compute'), _name('agg')
        created = self.nova.add_compute_service(host)
        response = self.nova.request(
            'POST', '/v2.1/os-aggregates', {'aggregate': {'name': name}},
            headers=MICROVERSION_2_1)
        self.assertStatus(200, response, 'create')
        aggregate = response.json()['aggregate']
        response = self.nova.request(
            'POST', '/v2.1/os-aggregates/%s/action' % aggregate['id'],
            {'add_host': {'host': host}}, headers=MICROVERSION_2_1)
        self.assertStatus(200, response, 'add_host')
        self.assertEqual([host], response.json()['aggregate']['hosts'])
        found, = self.nova.aggregates_by_host(host)
        # Microversion 2.1 shows no uuid (2.41 does): Nova's objects do.
        self.assertNotIn('uuid', aggregate)
        aggregate_uuid = str(uuid.UUID(found.pop('uuid')))
        self.assertEqual({'id': aggregate['id'], 'name': name,
                          'hosts': [host], 'metadata': {}}, found)
        # Nova mirrored the membership into Placement, on the node's
        # resource provider.
        status, body = self.nova.placement_request(
            'GET', '/resource_providers/%s/aggregates' % created['node_uuid'])
        self.assertEqual(200, status, body)
        self.assertEqual([aggregate_uuid], body['aggregates'])

    def test_log_clean(self):
        self.get_json('/v2.1/flavors')
        log = self.nova.log_text
        for text in ('DuplicateOptError', 'Traceback'):
            self.assertNotIn(text, log)


class TestNovaNoauth2(NovaAPITestCase):
    """Nova's packaged paste text through ``noauth2_paste`` and a test's own
    edit, with a file and an environment variable of the test's."""

    MARK = '# edited by TestNovaNoauth2'
    #: A WSGI app of the test's, served by Nova's process at /envprobe:
    #: what that process sees of its environment.
    PROBE = (
        'import json\n'
        'import os\n'
        'import sys\n'
        '\n'
        '\n'
        'def factory(global_conf, **local_conf):\n'
        '    def probe(environ, start_response):\n'
        '        import nova_aggregates\n'
        '        body = json.dumps({\n'
        '            "env": {k: os.environ.get(k) for k in (\n'
        '                "NOVA_AGGREGATES_CONFIG_FILES", "PYTHONPATH",\n'
        '                "OS_NOVA_CONFIG_FILES")},\n'
        '            "nova_aggregates": nova_aggregates.__file__,\n'
        '            "executable": sys.executable}).encode()\n'
        '        start_response("200 OK", [\n'
        '            ("Content-Type", "application/json")])\n'
        '        return [body]\n'
        '    return probe\n')

    @classmethod
    def edit_paste(cls, text):
        text = text.replace('/v2.1: oscomputeversion_v2\n',
                            '/v2.1: oscomputeversion_v2\n'
                            '/envprobe: envprobe\n')
        return text + ('\n[app:envprobe]\npaste.app_factory = '
                       'envprobe:factory\n\n%s\n' % cls.MARK)

    @classmethod
    def nova_kwargs(cls):
        return {
            'paste_ini': cls.edit_paste,
            'files': {'nova-aggregates.conf': {'DEFAULT': {'debug': 'true'}},
                      'envprobe.py': cls.PROBE},
            'extra_env': {'NOVA_AGGREGATES_CONFIG_FILES':
                          lambda d: d.path('nova-aggregates.conf')},
        }

    def test_paste_file(self):
        with open(self.nova.paste_ini_path) as f:
            text = f.read()
        self.assertIn(self.MARK, text)
        self.assertEqual(
            nova.noauth2_paste(self.edit_paste(nova.packaged_paste_ini())),
            text)
        self.assertNotIn(' authtoken ', text)
        self.assertIn(' noauth2 keystonecontext ', text)

    def test_admin_and_member(self):
        self.get_json('/v2.1/os-services')
        self.get_json('/v2.1/servers', token=nova.NOAUTH2_MEMBER)
        response = self.nova.request('GET', '/v2.1/os-services',
                                     token=nova.NOAUTH2_MEMBER)
        self.assertStatus(403, response)
        self.assertEqual(('forbidden', 403, SERVICES_DENIED),
                         response.fault())

    def test_forged_identity_headers_ignored(self):
        response = self.nova.request(
            'GET', '/v2.1/os-services', token=nova.NOAUTH2_MEMBER,
            headers={'X-Roles': 'admin', 'X-User-Id': 'admin',
                     'X-Identity-Status': 'Confirmed'})
        self.assertStatus(403, response)

    def test_no_token(self):
        self.assertStatus(401, self.nova.request('GET', '/v2.1/flavors',
                                                 token=None))
        # Version documents need none.
        self.get_json('/v2.1', token=None)

    def test_environment_of_nova(self):
        seen = self.get_json('/envprobe', token=None)
        self.assertEqual({
            'NOVA_AGGREGATES_CONFIG_FILES': self.nova.path(
                'nova-aggregates.conf'),
            'PYTHONPATH': None,
            'OS_NOVA_CONFIG_FILES': 'api-paste.ini;nova.conf'}, seen['env'])
        # Our package as installed (editable) in Nova's venv.
        self.assertEqual(os.path.join(nova.REPO, 'nova_aggregates',
                                      '__init__.py'), seen['nova_aggregates'])
        self.assertEqual(nova.VENV, os.path.dirname(os.path.dirname(
            seen['executable'])))

    def test_our_package_installed_in_novas_venv(self):
        found = self.nova.run_in_nova('''
            from importlib import metadata
            import nova_aggregates
            emit({'file': nova_aggregates.__file__,
                  'opts': sorted(ep.name for ep in metadata.entry_points(
                      group='oslo.config.opts'))})
        ''')
        self.assertEqual(os.path.join(nova.REPO, 'nova_aggregates',
                                      '__init__.py'), found['file'])
        self.assertIn('nova_aggregates', found['opts'])
        self.assertIn('nova.conf', found['opts'])

    def test_cells_as_nova_manage_sees_them(self):
        result = self.nova.manage('cell_v2', 'list_cells', '--verbose')
        self.assertEqual(0, result.returncode, result.stderr)
        rows = {line.split('|')[1].strip(): line for line in
                result.stdout.splitlines() if line.startswith('| cell')}
        self.assertEqual(['cell0', 'cell1'], sorted(rows))
        self.assertIn(self.nova.cell0_database_url, rows['cell0'])
        self.assertIn(self.nova.database_url, rows['cell1'])
        self.assertIn('fake://', rows['cell1'])

    def test_failed_start_reports_novas_log(self):
        broken = nova.NovaDeployment(paste_ini=lambda text: text.replace(
            'nova.api.openstack.requestlog:RequestLog.factory',
            'no_such_module_here:factory'))
        with self.assertRaises(fixtures.MultipleExceptions) as caught:
            broken.setUp()
        error = caught.exception.args[0][1]
        self.assertIsInstance(error, nova.NovaError)
        self.assertIn('no_such_module_here', str(error))
        # Everything it started has stopped.
        for server in (broken.nova_server, broken.placement_server):
            self.assertFalse(server.running())
