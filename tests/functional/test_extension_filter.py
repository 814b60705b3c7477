"""The ``extensions`` filter in front of a compute API that looks like Nova
(doc/operator-guide.md "Adding os-aggregates to Nova"; contract §17): it
serves only what its paste option names, authenticates only its own
requests, merges the listings, accepts the application's microversions and
can take its compute hosts from it.  The real Nova is in
``tests/functional/nova``; this stand-in makes each rule checkable alone."""

import os
from xml.etree import ElementTree

import fixtures
from paste import deploy
import testtools
import webob
import webob.dec

from nova_aggregates.api import extension_middleware
from nova_aggregates import exception
from nova_aggregates import service
from tests import base

COMMON_NS = 'http://docs.openstack.org/common/api/v1.0'
ATOM_NS = 'http://www.w3.org/2005/Atom'

#: The application's own entries, one of them with our alias.
NOVA_EXTENSIONS = [
    {'name': 'Aggregates', 'alias': 'os-aggregates',
     'namespace': 'http://example.org/nova/aggregates',
     'updated': '2014-01-01T00:00:00Z', 'description': "Nova's own",
     'links': []},
    {'name': 'Hosts', 'alias': 'os-hosts',
     'namespace': 'http://example.org/nova/hosts',
     'updated': '2014-01-01T00:00:00Z', 'description': "Nova's hosts",
     'links': []},
]

_XML_LISTING = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<extensions xmlns="%s" xmlns:atom="%s">'
                '<extension name="Aggregates" alias="os-aggregates" '
                'namespace="http://example.org/nova/aggregates" '
                'updated="2014-01-01T00:00:00Z"><description>Nova\'s own'
                '</description></extension>'
                '<extension name="Keypairs" alias="os-keypairs" '
                'namespace="http://example.org/nova/keypairs" '
                'updated="2014-01-01T00:00:00Z"><description>Keypairs'
                '</description><atom:link rel="describedby" href="http://x"/>'
                '</extension></extensions>' % (COMMON_NS, ATOM_NS))


class NovaLike:
    """Answers what Nova would for the requests the filter makes or passes
    on; remembers each request with the identity headers it carried."""

    def __init__(self):
        self.seen = []
        self.max_version = '2.96'
        self.services = [{'id': 1, 'binary': 'nova-compute',
                          'host': 'compute1', 'zone': 'nova'},
                         {'id': 2, 'binary': 'nova-compute',
                          'host': 'compute2', 'zone': 'nova'}]
        self.services_status = 200

    @webob.dec.wsgify
    def __call__(self, req):
        self.seen.append((req.method, req.path_info, req.query_string,
                          req.headers.get('X-Roles'),
                          req.headers.get('OpenStack-API-Version')))
        path = req.path_info
        if path in ('', '/'):
            return webob.Response(json={'version': {
                'id': 'v2.1', 'version': self.max_version,
                'min_version': '2.1'}}, charset=None)
        if path.endswith('/os-services'):
            return webob.Response(status=self.services_status,
                                  json={'services': self.services},
                                  charset=None)
        if path.endswith('/extensions') or path.endswith('/extensions.xml'):
            if path.endswith('.xml') or 'xml' in req.headers.get(
                    'Accept', ''):
                return webob.Response(body=_XML_LISTING.encode(),
                                      content_type='application/xml')
            return webob.Response(json={'extensions': NOVA_EXTENSIONS},
                                  charset=None)
        return webob.Response(status=299, json={'nova': path}, charset=None)


_APPS = []


def nova_like_factory(global_conf, **local_conf):
    app = NovaLike()
    _APPS.append(app)
    return app


PASTE = '''
[pipeline:main]
pipeline = %(pipeline)s

[filter:noauth2]
paste.filter_factory = nova_aggregates.api.auth:noauth2_filter_factory

[filter:extensions]
paste.filter_factory = nova_aggregates.api.extensions:extension_middleware_factory
surface = %(surface)s
%(options)s

[app:nova]
paste.app_factory = tests.functional.test_extension_filter:nova_like_factory
'''


class FilterTestCase(base.APITestCase):
    """The filter alone in front of NovaLike: it authenticates itself."""

    SURFACE = 'v2.1'
    PROJECT = ''
    PIPELINE = 'extensions nova'
    OPTIONS = ''

    def setUp(self):
        super().setUp()
        self.app = self.load()
        self.nova = _APPS.pop()

    def load(self, options=None, surface=None, pipeline=None):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'paste.ini')
        with open(path, 'w') as f:
            f.write(PASTE % {'pipeline': pipeline or self.PIPELINE,
                             'surface': surface or self.SURFACE,
                             'options': self.OPTIONS if options is None
                             else options})
        return deploy.loadapp('config:' + path)

    def call(self, method, path, body=None, token='admin:admin',
             headers=None):
        req = webob.Request.blank(self.PROJECT + path, method=method)
        if token:
            req.headers['X-Auth-Token'] = token
        req.headers.update(headers or {})
        if body is not None:
            req.json_body = body
        return req.get_response(self.app)

    def version(self, value, path='/os-aggregates', method='GET', body=None):
        return self.call(method, path, body,
                         headers={'OpenStack-API-Version': 'compute ' + value})


class TestServesOnlyWhatItIsTold(FilterTestCase):

    def test_default_is_os_aggregates_alone(self):
        self.assertEqual(200, self.call('GET', '/os-aggregates').status_int)
        self.assertEqual([], self.nova.seen)
        for path in ('/os-hosts', '/flavors', '/servers'):
            response = self.call('GET', path)
            self.assertEqual((299, {'nova': path}),
                             (response.status_int, response.json), path)
        services = self.call('GET', '/os-services').json['services']
        self.assertEqual(self.nova.services, services)
        self.assertEqual(4, len(self.nova.seen))

    def test_hosts_and_services_when_named(self):
        self.app = self.load('extensions = os-aggregates os-hosts')
        self.api.register_host('host1')
        hosts = self.call('GET', '/os-hosts')
        self.assertEqual(['host1'],
                         [h['host_name'] for h in hosts.json['hosts']])
        self.assertEqual(self.nova.services, self.call(
            'GET', '/os-services').json['services'])

    def test_host_matching_when_named(self):
        self.assertEqual(299, self.call('POST', '/os-host-matching',
                                        {'request': {}}).status_int)
        self.app = self.load('extensions = os-aggregates os-host-matching')
        self.api.register_host('host1')
        response = self.call('POST', '/os-host-matching', {'request': {}})
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual({'hosts': [{'host': 'host1', 'zone': 'nova',
                                     'aggregates': []}], 'rejected': []},
                         response.json)
        listed = self.call('GET', '/extensions').json['extensions']
        self.assertIn('os-host-matching', [ext['alias'] for ext in listed])

    def test_unknown_alias_refused_at_start(self):
        error = self.assertRaises(exception.ExtensionError, self.load,
                                  'extensions = os-aggregates os-nothing')
        self.assertIn('os-nothing', str(error))
        self.assertIn('no loaded extension has this alias', str(error))

    def test_unknown_surface_refused_at_start(self):
        error = self.assertRaises(exception.ConfigurationError, self.load,
                                  surface='v3')
        self.assertIn('surface = v3', str(error))

    def test_everything_else_passes_untouched_and_unauthenticated(self):
        # Forged identity headers, no token: ours refuse, Nova's own
        # pipeline (not us) judges the rest.
        forged = {'X-Roles': 'admin', 'X-Identity-Status': 'Confirmed'}
        response = self.call('GET', '/servers', token=None, headers=forged)
        self.assertEqual(299, response.status_int)
        self.assertEqual(('GET', '/servers', '', 'admin', None),
                         self.nova.seen[-1])
        ours = self.call('GET', '/os-aggregates', token=None, headers=forged)
        self.assertFault(ours, 401, 'unauthorized', 'X-Auth-Token')
        self.assertEqual(1, len(self.nova.seen))
        self.assertFault(self.call('GET', '/os-aggregates', token='bob:p'),
                         403, 'forbidden')

    def test_an_auth_filter_of_ours_before_it_is_used(self):
        self.app = self.load(pipeline='noauth2 extensions nova')
        self.assertEqual(200, self.call('GET', '/os-aggregates').status_int)
        self.assertFault(self.call('GET', '/os-aggregates', token=None),
                         401, 'unauthorized')


class TestListing(FilterTestCase):

    def test_json_ours_replace_same_alias(self):
        self.app = self.load('extensions = os-aggregates os-services')
        listed = self.call('GET', '/extensions').json['extensions']
        self.assertEqual(['os-aggregates', 'os-hosts', 'os-services'],
                         [ext['alias'] for ext in listed])
        self.assertEqual('Admin-only aggregate administration',
                         listed[0]['description'])
        self.assertEqual(NOVA_EXTENSIONS[1], listed[1])
        show = self.call('GET', '/extensions/os-aggregates').json
        self.assertEqual(listed[0], show['extension'])
        self.assertEqual(299, self.call('GET',
                                        '/extensions/os-hosts').status_int)


class TestLegacyListing(FilterTestCase):
    SURFACE = 'legacy'
    PROJECT = '/admin'

    def test_xml_ours_replace_same_alias(self):
        for response in (self.call('GET', '/extensions.xml'),
                         self.call('GET', '/extensions',
                                   headers={'Accept': 'application/xml'})):
            self.assertEqual('application/xml', response.content_type)
            root = ElementTree.fromstring(response.body)
            self.assertEqual('{%s}extensions' % COMMON_NS, root.tag)
            exts = root.findall('{%s}extension' % COMMON_NS)
            self.assertEqual(['os-aggregates', 'os-keypairs'],
                             [e.get('alias') for e in exts])
            self.assertEqual('Admin-only aggregate administration',
                             exts[0].findtext('{%s}description' % COMMON_NS))
            self.assertEqual(
                'http://x', exts[1].find('{%s}link' % ATOM_NS).get('href'))

    def test_json_listing_on_the_legacy_surface(self):
        listed = self.call('GET', '/extensions').json['extensions']
        self.assertEqual(['os-aggregates', 'os-hosts'],
                         [ext['alias'] for ext in listed])
        self.assertEqual('Admin-only aggregate administration',
                         listed[0]['description'])


class TestMicroversions(FilterTestCase):

    def test_up_to_the_applications_maximum(self):
        created = self.version('2.81', method='POST',
                               body={'aggregate': {'name': 'a'}})
        self.assertEqual(200, created.status_int, created.body)
        self.assertIn('uuid', created.json['aggregate'])
        self.assertEqual('compute 2.81',
                         created.headers['OpenStack-API-Version'])
        self.assertEqual('2.81',
                         created.headers['X-OpenStack-Nova-API-Version'])
        # Read once, from the application's version document.
        self.assertEqual([('GET', '/', '', None, None)], self.nova.seen)
        self.assertEqual('compute 2.96', self.version('latest').headers[
            'OpenStack-API-Version'])
        too_new = self.version('2.97')
        self.assertFault(too_new, 406, 'notAcceptable', 'maximum is 2.96')
        self.assertEqual(1, len(self.nova.seen))

    def test_our_versions_do_not_ask_the_application(self):
        old = self.version('2.40')
        self.assertEqual(200, old.status_int)
        self.assertEqual('compute 2.40', old.headers['OpenStack-API-Version'])
        self.assertEqual([], self.nova.seen)
        self.assertFault(self.version('2.0'), 406, 'notAcceptable')
        self.assertFault(self.version('two'), 400, 'badRequest')

    def test_configured_maximum(self):
        self.conf_fixture.config(filter_max_microversion='2.85', group='api')
        self.app = self.load()
        self.assertEqual(200, self.version('2.85').status_int)
        self.assertFault(self.version('2.86'), 406, 'notAcceptable',
                         'maximum is 2.85')
        self.assertEqual([], self.nova.seen)

    def test_application_without_a_version_document(self):
        self.nova.max_version = 'none'
        self.assertFault(self.version('2.42'), 406, 'notAcceptable',
                         'maximum is 2.41')


class TestHostsFromTheApplication(FilterTestCase):

    config_overrides = {('compute', 'host_source'): 'host_app'}

    def aggregate(self):
        return self.call('POST', '/os-aggregates',
                         {'aggregate': {'name': 'agg'}}).json['aggregate']

    def add_host(self, agg, host):
        return self.call('POST', '/os-aggregates/%s/action' % agg['id'],
                         {'add_host': {'host': host}})

    def test_the_applications_computes_may_join(self):
        agg = self.aggregate()
        added = self.add_host(agg, 'compute1')
        self.assertEqual(200, added.status_int, added.body)
        self.assertEqual(['compute1'], added.json['aggregate']['hosts'])
        # Asked in-process, as the caller, with the base version.
        self.assertEqual([('GET', '/os-services', 'binary=nova-compute',
                           None, None)], self.nova.seen)
        # A host the cached listing lacks: asked again before the 404.
        self.assertFault(self.add_host(agg, 'unknown'), 404, 'itemNotFound',
                         'Compute host unknown could not be found')
        self.assertEqual(2, len(self.nova.seen))
        # One that registered since the listing joins at once.
        self.nova.services.append({'id': 3, 'binary': 'nova-compute',
                                   'host': 'compute3', 'zone': 'nova'})
        self.assertEqual(200, self.add_host(agg, 'compute3').status_int)
        self.assertEqual(3, len(self.nova.seen))
        # A known host within host_app_cache_time: the listing is reused.
        other = self.call('POST', '/os-aggregates',
                          {'aggregate': {'name': 'other'}}).json['aggregate']
        self.assertEqual(200, self.add_host(other, 'compute1').status_int)
        self.assertEqual(3, len(self.nova.seen))
        removed = self.call('POST', '/os-aggregates/%s/action' % agg['id'],
                            {'remove_host': {'host': 'compute1'}})
        self.assertEqual(['compute3'], removed.json['aggregate']['hosts'])

    def test_unknown_host_on_a_cold_cache_asks_once(self):
        agg = self.aggregate()
        self.assertFault(self.add_host(agg, 'unknown'), 404, 'itemNotFound')
        self.assertEqual(1, len(self.nova.seen))

    def test_application_refusing_the_listing(self):
        self.nova.services_status = 403
        self.assertFault(self.add_host(self.aggregate(), 'compute1'), 503,
                         'serviceUnavailable', 'answered HTTP 403')


class TestLegacyHostsFromTheApplication(TestHostsFromTheApplication):
    SURFACE = 'legacy'
    PROJECT = '/admin'

    def test_the_applications_computes_may_join(self):
        agg = self.aggregate()
        self.assertEqual(200, self.add_host(agg, 'compute2').status_int)
        self.assertEqual('/admin/os-services', self.nova.seen[0][1])


class TestOwnConfiguration(testtools.TestCase):
    """What the filter refuses rather than serve with a configuration it
    was not given (service.load_config, in a process that parsed none)."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.MonkeyPatch(
            'nova_aggregates.conf.CONF._namespace', None))
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_AGGREGATES_CONFIG_FILES'))

    def factory(self, **options):
        return extension_middleware.extension_middleware_factory(
            {}, **options)

    def test_no_configuration_named(self):
        error = self.assertRaises(exception.ConfigurationError, self.factory)
        self.assertIn('NOVA_AGGREGATES_CONFIG_FILES', str(error))

    def test_missing_file_named(self):
        missing = os.path.join(self.tmp, 'nope.conf')
        error = self.assertRaises(exception.ConfigurationError, self.factory,
                                  config_file=missing)
        self.assertIn(missing, str(error))
        self.assertIn('paste option config_file', str(error))
        self.useFixture(fixtures.EnvironmentVariable(
            'NOVA_AGGREGATES_CONFIG_FILES', missing))
        error = self.assertRaises(exception.ConfigurationError, self.factory)
        self.assertIn('environment variable NOVA_AGGREGATES_CONFIG_FILES',
                      str(error))


class TestOneConfigurationPerProcess(base.APITestCase):

    def test_other_files_than_those_loaded(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        other = os.path.join(tmp, 'other.conf')
        open(other, 'w').close()
        error = self.assertRaises(exception.ConfigurationError,
                                  service.load_config, [other])
        self.assertIn('this process already loaded no configuration file',
                      str(error))


class TestHostsRemovedAt243(FilterTestCase):
    """With os-hosts served in front of an application whose maximum is
    above 2.43: os-hosts/{host} is gone from 2.43, as in Nova."""

    OPTIONS = 'extensions = os-aggregates os-hosts'

    def test_404_from_243(self):
        self.api.register_host('host1')
        for version, status in (('2.42', 200), ('2.43', 404),
                                ('latest', 404)):
            response = self.call(
                'PUT', '/os-hosts/host1', {'status': 'disable'},
                headers={'OpenStack-API-Version': 'compute ' + version})
            self.assertEqual(status, response.status_int, version)
        self.assertFault(self.call('GET', '/os-hosts/host1', headers={
            'OpenStack-API-Version': 'compute 2.50'}), 404, 'itemNotFound',
            '2.43')
        self.assertEqual(200, self.call('GET', '/os-hosts/host1').status_int)
