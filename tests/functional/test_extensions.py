"""The extensions listing (doc/api-ref.md, "Extensions" and "Legacy: hosts
and extensions") and the extension framework:
``ExtensionMiddleware`` in front of a foreign compute API, and duplicate
aliases refused at load."""

import io
import json
import os
import subprocess
import sys
from xml.etree import ElementTree

import fixtures
from paste import deploy
import testtools
import webob
import webob.dec

from nova_aggregates.api import extension_framework
from nova_aggregates.api import extension_middleware
from nova_aggregates.api import extensions
from nova_aggregates import exception
from tests import base
from tests import fixtures as na_fixtures

COMMON_NS = 'http://docs.openstack.org/common/api/v1.0'
ATOM_NS = 'http://www.w3.org/2005/Atom'
AGGREGATES_EXT = {
    'name': 'Aggregates',
    'alias': 'os-aggregates',
    'namespace': 'http://docs.openstack.org/compute/ext/aggregates/api/v1.1',
    'updated': '2012-01-12T00:00:00+00:00',
    'description': 'Admin-only aggregate administration',
    'links': [],
}
EXT_KEYS = set(AGGREGATES_EXT)
AGGREGATES_PATH = 'nova_aggregates.api.contrib.aggregates.Aggregates'


def _namespaces(body):
    """The namespace declarations of an XML document: {prefix: uri}."""
    return dict(event[1] for event in ElementTree.iterparse(
        io.BytesIO(body), events=('start-ns',)))


#: The aliases of ``[api] extensions`` by default.
STANDARD_ALIASES = {'os-aggregates', 'os-hosts', 'os-services',
                    'os-rolling-maintenance', 'os-host-matching'}


class TestExtensionsListing(base.APITestCase):

    PREFIXES = ('/v1.1/admin', '/v2/admin', '/v2.1', '/v2.1/admin')

    def test_index_json(self):
        for prefix in self.PREFIXES:
            body = self.json_request('GET', prefix + '/extensions')
            self.assertEqual(['extensions'], list(body))
            listed = {ext['alias']: ext for ext in body['extensions']}
            self.assertEqual(STANDARD_ALIASES, set(listed), prefix)
            self.assertEqual(AGGREGATES_EXT, listed['os-aggregates'])
            for ext in body['extensions']:
                self.assertEqual(EXT_KEYS, set(ext))
                self.assertEqual([], ext['links'])

    def test_show_json(self):
        for prefix in self.PREFIXES:
            body = self.json_request('GET',
                                     prefix + '/extensions/os-aggregates')
            self.assertEqual({'extension': AGGREGATES_EXT}, body)

    def test_show_json_suffix(self):
        body = self.json_request('GET',
                                 '/v1.1/admin/extensions/os-aggregates.json',
                                 headers={'Accept': 'application/xml'})
        self.assertEqual({'extension': AGGREGATES_EXT}, body)

    def test_unknown_alias(self):
        for prefix in self.PREFIXES:
            for alias in ('os-nothing', 'OS-AGGREGATES', 'aggregates'):
                response = self.request('GET',
                                        prefix + '/extensions/' + alias)
                self.assertFault(response, 404, 'itemNotFound',
                                 'Extension %s could not be found.' % alias)

    def test_unknown_alias_in_xml(self):
        response = self.request('GET', '/v1.1/admin/extensions/os-nothing.xml')
        self.assertXMLFault(response, 404, 'itemNotFound',
                            'Extension os-nothing could not be found.')

    def test_index_xml(self):
        for path, headers in (
                ('/v1.1/admin/extensions.xml', {}),
                ('/v2/admin/extensions', {'Accept': 'application/xml'}),
                ('/v1.1/admin/extensions',
                 {'Accept': 'application/vnd.openstack.compute+xml'})):
            response = self.request('GET', path, headers=headers)
            self.assertEqual(200, response.status_int, response.body)
            self.assertEqual('application/xml', response.content_type)
            self.assertEqual({'': COMMON_NS, 'atom': ATOM_NS},
                             _namespaces(response.body))
            root = ElementTree.fromstring(response.body)
            self.assertEqual('{%s}extensions' % COMMON_NS, root.tag)
            self.assertEqual({}, root.attrib)
            nodes = {node.get('alias'): node for node in root}
            self.assertEqual(STANDARD_ALIASES, set(nodes))
            for node in root:
                self.assertEqual('{%s}extension' % COMMON_NS, node.tag)
            self.assertExtensionXML(nodes['os-aggregates'])

    def test_show_xml(self):
        response = self.request('GET',
                                '/v1.1/admin/extensions/os-aggregates.xml')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual({'': COMMON_NS, 'atom': ATOM_NS},
                         _namespaces(response.body))
        root = ElementTree.fromstring(response.body)
        self.assertEqual('{%s}extension' % COMMON_NS, root.tag)
        self.assertExtensionXML(root)

    def assertExtensionXML(self, node):
        self.assertEqual({'name': 'Aggregates', 'alias': 'os-aggregates',
                          'namespace': AGGREGATES_EXT['namespace'],
                          'updated': '2012-01-12T00:00:00+00:00'},
                         node.attrib)
        self.assertEqual(['{%s}description' % COMMON_NS],
                         [child.tag for child in node])
        self.assertEqual('Admin-only aggregate administration',
                         node.findtext('{%s}description' % COMMON_NS))

    def test_v21_listing_is_json_only(self):
        response = self.request('GET', '/v2.1/extensions',
                                headers={'Accept': 'application/xml'})
        self.assertEqual('application/json', response.content_type)
        self.assertIn(AGGREGATES_EXT, response.json['extensions'])

    def test_any_authenticated_caller_may_list(self):
        body = self.json_request('GET', '/v1.1/bob/extensions',
                                 token='bob:bob')
        self.assertIn(AGGREGATES_EXT, body['extensions'])
        body = self.json_request('GET', '/v2.1/extensions/os-aggregates',
                                 token='notused')
        self.assertEqual(AGGREGATES_EXT, body['extension'])

    def test_listing_needs_a_token(self):
        for path in ('/v1.1/admin/extensions', '/v2.1/extensions'):
            self.assertFault(self.request('GET', path, token=None), 401,
                             'unauthorized', 'Authentication required')

    def test_listing_is_read_only(self):
        for method, path in (('POST', '/v1.1/admin/extensions'),
                             ('DELETE', '/v2.1/extensions/os-aggregates'),
                             ('PUT', '/v2/admin/extensions/os-aggregates')):
            response = self.request(method, path, {})
            self.assertFault(response, 405, 'badMethod',
                             'Method %s is not allowed' % method)
            self.assertEqual('GET', response.headers['Allow'])


# -- a foreign compute API behind ExtensionMiddleware ---------------------

STUB_EXTENSIONS = [{
    'name': 'Servers', 'alias': 'os-stub-servers',
    'namespace': 'http://example.org/stub/servers', 'updated':
        '2011-01-01T00:00:00+00:00', 'description': 'Stub servers',
    'links': []}]


class StubComputeAPI:
    """A tiny foreign compute API: ``servers`` and its own extensions.
    Remembers what reached it."""

    def __init__(self):
        self.seen = []

    @webob.dec.wsgify
    def __call__(self, req):
        self.seen.append((req.method, req.path_info, req.body,
                          req.headers.get('X-Stub-Header')))
        if req.path_info.endswith('/extensions'):
            return webob.Response(json={'extensions': list(STUB_EXTENSIONS)},
                                  content_type='application/json',
                                  charset=None)
        if req.path_info.endswith('/extensions/os-stub-servers'):
            return webob.Response(json={'extension': STUB_EXTENSIONS[0]},
                                  content_type='application/json',
                                  charset=None)
        if '/servers' in req.path_info:
            response = webob.Response(
                status=202, body=b'{"server": {"id": "s-1"}}',
                content_type='application/vnd.stub+json', charset=None)
            response.headers['X-Stub'] = 'yes'
            return response
        return webob.Response(status=404, body=b'stub: no such thing',
                              content_type='text/plain')


_STUBS = []


def stub_app_factory(global_conf, **local_conf):
    stub = StubComputeAPI()
    _STUBS.append(stub)
    return stub


PIPELINE = '''
[pipeline:main]
pipeline = noauth2 extensions stub

[filter:noauth2]
paste.filter_factory = nova_aggregates.api.auth:noauth2_filter_factory

[filter:extensions]
paste.filter_factory = nova_aggregates.api.extensions:extension_middleware_factory
%(surface)s
extensions = os-aggregates, os-hosts, os-services

[app:stub]
paste.app_factory = tests.functional.test_extensions:stub_app_factory
'''


class ExtensionMiddlewareTests:
    """Mixed into an APITestCase; a subclass picks the surface."""

    SURFACE = 'legacy'
    PROJECT = '/admin'

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')
        tmp = self.useFixture(fixtures.TempDir()).path
        config = os.path.join(tmp, 'stub-paste.ini')
        with open(config, 'w') as f:
            f.write(PIPELINE % {'surface': 'surface = %s' % self.SURFACE})
        self.app = deploy.loadapp('config:' + config)
        self.stub = _STUBS.pop()

    def call(self, method, path, body=None, token='admin:admin',
             headers=None):
        req = webob.Request.blank(self.PROJECT + path, method=method)
        if token:
            req.headers['X-Auth-Token'] = token
        req.headers.update(headers or {})
        if body is not None:
            req.body = json.dumps(body).encode('utf-8')
            req.content_type = 'application/json'
        return req.get_response(self.app)

    def test_servers_pass_through_untouched(self):
        response = self.call('POST', '/servers', {'server': {'name': 's'}},
                             headers={'X-Stub-Header': 'kept'})
        self.assertEqual(202, response.status_int)
        self.assertEqual(b'{"server": {"id": "s-1"}}', response.body)
        self.assertEqual('application/vnd.stub+json', response.content_type)
        self.assertEqual('yes', response.headers['X-Stub'])
        self.assertEqual([('POST', self.PROJECT + '/servers',
                           b'{"server": {"name": "s"}}', 'kept')],
                         self.stub.seen)

    def test_unknown_urls_are_the_stubs_business(self):
        for path, status, body in (
                ('/servers/s-1/action', 202, b'{"server": {"id": "s-1"}}'),
                ('/flavors', 404, b'stub: no such thing'),
                ('/', 404, b'stub: no such thing')):
            response = self.call('GET', path)
            self.assertEqual((status, body),
                             (response.status_int, response.body), path)
            self.assertEqual(('GET', self.PROJECT + path),
                             self.stub.seen[-1][:2])
        self.assertEqual(3, len(self.stub.seen))

    def test_aggregates_are_served_here(self):
        created = self.call('POST', '/os-aggregates',
                            {'aggregate': {'name': 'agg1',
                                           'availability_zone': 'az1'}})
        self.assertEqual(200, created.status_int, created.body)
        agg_id = created.json['aggregate']['id']
        added = self.call('POST', '/os-aggregates/%s/action' % agg_id,
                          {'add_host': {'host': 'host1'}})
        self.assertEqual(['host1'], added.json['aggregate']['hosts'])
        listed = self.call('GET', '/os-aggregates')
        self.assertEqual(['agg1'],
                         [a['name'] for a in listed.json['aggregates']])
        missing = self.call('GET', '/os-aggregates/999')
        self.assertFault(missing, 404, 'itemNotFound',
                         'Aggregate 999 could not be found.')
        # The stub was never asked anything: not even its version document
        # (wanted only for versions above ours).
        self.assertEqual([], self.stub.seen)

    def test_our_policy_and_auth_apply(self):
        self.assertFault(self.call('GET', '/os-aggregates', token=None),
                         401, 'unauthorized')
        response = self.call('GET', '/os-aggregates', token='bob:admin')
        self.assertFault(response, 403, 'forbidden',
                         'os_compute_api:os-aggregates:index')
        self.assertEqual([], self.stub.seen)

    def test_listing_merges_the_stubs_extensions_with_ours(self):
        response = self.call('GET', '/extensions')
        self.assertEqual(200, response.status_int, response.body)
        listed = response.json['extensions']
        self.assertEqual(['os-stub-servers', 'os-aggregates', 'os-hosts',
                          'os-services'], [ext['alias'] for ext in listed])
        self.assertEqual(STUB_EXTENSIONS[0], listed[0])
        self.assertIn(AGGREGATES_EXT, listed)
        self.assertEqual(1, len(self.stub.seen))

    def test_show_of_our_extension(self):
        response = self.call('GET', '/extensions/os-aggregates')
        self.assertEqual({'extension': AGGREGATES_EXT}, response.json)

    def test_show_of_the_stubs_extension(self):
        response = self.call('GET', '/extensions/os-stub-servers')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual({'extension': STUB_EXTENSIONS[0]}, response.json)

    def test_show_of_an_extension_nobody_has(self):
        response = self.call('GET', '/extensions/os-nothing')
        self.assertEqual(404, response.status_int)
        self.assertNotIn(b'os-aggregates', response.body)


class TestExtensionMiddlewareLegacy(ExtensionMiddlewareTests,
                                    base.APITestCase):
    SURFACE = 'legacy'
    PROJECT = '/admin'


class TestExtensionMiddlewareV21(ExtensionMiddlewareTests, base.APITestCase):
    SURFACE = 'v2.1'
    PROJECT = ''

    def test_our_resources_negotiate_microversions(self):
        # No microversion filter in this pipeline: the middleware does it
        # for its own resources, and leaves the stub's alone.
        created = self.call('POST', '/os-aggregates',
                            {'aggregate': {'name': 'agg1'}},
                            headers={'OpenStack-API-Version': 'compute 2.41'})
        self.assertEqual(200, created.status_int, created.body)
        self.assertIn('uuid', created.json['aggregate'])
        self.assertEqual('compute 2.41',
                         created.headers['OpenStack-API-Version'])
        self.assertEqual('2.41',
                         created.headers['X-OpenStack-Nova-API-Version'])
        plain = self.call('GET', '/os-aggregates')
        self.assertNotIn('uuid', plain.json['aggregates'][0])
        self.assertEqual('compute 2.1', plain.headers['OpenStack-API-Version'])
        too_new = self.call('GET', '/os-aggregates',
                            headers={'OpenStack-API-Version': 'compute 2.99'})
        self.assertFault(too_new, 406, 'notAcceptable', '2.99')
        self.assertEqual('compute 2.99',
                         too_new.headers['OpenStack-API-Version'])
        servers = self.call('GET', '/servers',
                            headers={'OpenStack-API-Version': 'compute 2.99'})
        self.assertEqual(202, servers.status_int)
        self.assertNotIn('OpenStack-API-Version', servers.headers)


_FOREIGN_STUB = """
import webob.dec


@webob.dec.wsgify
def stub(req):
    return webob.Response(status=202, body=b'stub')


def factory(global_conf, **local_conf):
    return stub
"""

_FOREIGN_PASTE = """
[pipeline:main]
pipeline = noauth2 extensions stub

[filter:noauth2]
paste.filter_factory = nova_aggregates.api.auth:noauth2_filter_factory

[filter:extensions]
paste.filter_factory = nova_aggregates.api.extensions:extension_middleware_factory
surface = v2.1
config_file = %s

[app:stub]
paste.app_factory = foreign_stub:factory
"""

_FOREIGN_PROCESS = """
import json, sys
import webob
from paste import deploy
app = deploy.loadapp('config:' + sys.argv[1])
def call(method, path, body=None):
    req = webob.Request.blank(path, method=method,
                              headers={'X-Auth-Token': 'admin:admin'})
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    res = req.get_response(app)
    return res.status_int, res.json if res.content_type.endswith('json') \\
        else res.text
print(json.dumps([call('POST', '/os-aggregates',
                       {'aggregate': {'name': 'from-foreign'}}),
                  call('GET', '/os-aggregates'),
                  call('GET', '/servers')]))
"""


class TestExtensionMiddlewareInAnotherProcess(testtools.TestCase):
    """A foreign service loads the filter: the filter reads our config."""

    def test_config_file_option(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        db = os.path.join(tmp, 'aggregates.sqlite')
        conf_file = os.path.join(tmp, 'nova-aggregates.conf')
        with open(conf_file, 'w') as f:
            f.write('[database]\nconnection = sqlite:///%s\n' % db)
        sync = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable),
                          'nova-aggregates-manage'),
             '--config-file', conf_file, 'db', 'sync'],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(0, sync.returncode, sync.stderr)
        paste_ini = os.path.join(tmp, 'foreign-paste.ini')
        with open(paste_ini, 'w') as f:
            f.write(_FOREIGN_PASTE % conf_file)
        with open(os.path.join(tmp, 'foreign_stub.py'), 'w') as f:
            f.write(_FOREIGN_STUB)
        run = subprocess.run(
            [sys.executable, '-c', _FOREIGN_PROCESS, paste_ini],
            capture_output=True, text=True, timeout=60, cwd=tmp,
            env=dict(os.environ, PYTHONPATH=tmp))
        self.assertEqual(0, run.returncode, run.stderr)
        (created, listed, servers) = json.loads(
            run.stdout.strip().splitlines()[-1])
        self.assertEqual([202, 'stub'], servers)
        self.assertEqual(200, created[0], created)
        self.assertEqual(['from-foreign'],
                         [a['name'] for a in listed[1]['aggregates']])
        # The aggregate went to the configured database, not ./var.
        self.assertTrue(os.path.getsize(db) > 0)
        self.assertFalse(os.path.exists(os.path.join(tmp, 'var')))


# -- loading extensions ---------------------------------------------------

class SecondAggregates(extension_framework.ExtensionDescriptor):
    """Another aggregates extension"""

    name = 'Aggregates2'
    alias = 'os-aggregates'
    namespace = 'http://example.org/aggregates2'
    updated = '2020-01-01T00:00:00+00:00'


class Nameless(extension_framework.ExtensionDescriptor):
    """Lacks a namespace"""

    name = 'Nameless'
    alias = 'os-nameless'
    updated = '2020-01-01T00:00:00+00:00'


class TestPublishedNames(testtools.TestCase):
    """What operators' paste files and descriptors name keeps working."""

    def test_filter_factory(self):
        self.assertIs(extension_middleware.extension_middleware_factory,
                      extensions.extension_middleware_factory)
        self.assertIs(extension_middleware.ExtensionMiddleware,
                      extensions.ExtensionMiddleware)

    def test_framework(self):
        for name in ('ExtensionDescriptor', 'ExtensionManager',
                     'ExtensionsController', 'ResourceExtension'):
            self.assertIs(getattr(extension_framework, name),
                          getattr(extensions, name))


class TestExtensionLoading(base.APITestCase):

    def test_duplicate_alias(self):
        error = self.assertRaises(
            exception.ExtensionError, extension_framework.ExtensionManager,
            [AGGREGATES_PATH, __name__ + '.SecondAggregates'])
        self.assertEqual('Cannot load API extension SecondAggregates: alias '
                         'os-aggregates is already registered by Aggregates',
                         str(error))

    def test_same_extension_twice(self):
        error = self.assertRaises(exception.ExtensionError,
                                  extension_framework.ExtensionManager,
                                  [AGGREGATES_PATH, AGGREGATES_PATH])
        self.assertIn('alias os-aggregates is already registered',
                      str(error))

    def test_duplicate_alias_refused_when_the_pipeline_loads(self):
        self.conf_fixture.config(
            extensions=[AGGREGATES_PATH, __name__ + '.SecondAggregates'],
            group='api')
        error = self.assertRaises(exception.ExtensionError, deploy.loadapp,
                                  'config:' + na_fixtures.PASTE_CONFIG,
                                  name='osapi_compute')
        self.assertIn('alias os-aggregates is already registered',
                      str(error))

    def test_descriptor_without_a_namespace(self):
        error = self.assertRaises(exception.ExtensionError,
                                  extension_framework.ExtensionManager,
                                  [__name__ + '.Nameless'])
        self.assertIn('descriptor has no namespace', str(error))

    def test_path_that_does_not_import(self):
        for path in ('nova_aggregates.api.contrib.nothing.Nothing',
                     'nova_aggregates.api.contrib.aggregates.Nothing'):
            error = self.assertRaises(exception.ExtensionError,
                                      extension_framework.ExtensionManager,
                                      [path])
            self.assertIn('Cannot load API extension %s' % path, str(error))

    def test_configured_extensions_are_listed(self):
        self.conf_fixture.config(extensions=[AGGREGATES_PATH], group='api')
        app = deploy.loadapp('config:' + na_fixtures.PASTE_CONFIG,
                             name='osapi_compute')
        req = webob.Request.blank('/v2.1/extensions',
                                  headers={'X-Auth-Token': 'admin:admin'})
        response = req.get_response(app)
        self.assertEqual({'extensions': [AGGREGATES_EXT]}, response.json)
        req = webob.Request.blank('/v2.1/os-hosts',
                                  headers={'X-Auth-Token': 'admin:admin'})
        self.assertFault(req.get_response(app), 404, 'itemNotFound')
