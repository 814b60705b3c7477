"""The paste factories of the oslo.middleware filters: left out of the
pipeline when the configuration gives them nothing to do, oslo.middleware's
own classes on our configuration object when it does."""

import json
import subprocess
import sys

import fixtures
from oslo_config import cfg
from oslo_middleware import cors
from oslo_middleware import http_proxy_to_wsgi
import testtools
import webob
import webob.dec

from nova_aggregates.api import proxy
from nova_aggregates import conf as na_conf
from tests import fixtures as na_fixtures

ORIGIN = 'https://dashboard.example.org'


@webob.dec.wsgify
def echo_app(req):
    """What the application saw of the request."""
    return webob.Response(json=req.environ.get('echo') or {
        'host_url': req.host_url, 'script_name': req.script_name,
        'remote_addr': req.remote_addr})


class FactoryTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        # A configuration object of our own stands in for the process's:
        # the factories must use the one ``proxy.configuration`` gives.
        self.conf = cfg.ConfigOpts()
        self.conf([], project='nova-aggregates', default_config_files=[])
        self.useFixture(fixtures.MockPatchObject(
            proxy, 'configuration', lambda: self.conf))

    def set(self, group, **values):
        proxy.register_opts(self.conf)
        for name, value in values.items():
            self.conf.set_override(name, value, group=group)

    def get(self, app, path='/v2.1', **headers):
        return webob.Request.blank(path, headers=headers).get_response(app)


class TestHTTPProxyToWSGIFactory(FactoryTestCase):

    FORGED = {'X-Forwarded-Proto': 'https',
              'X-Forwarded-Host': 'api.example.org',
              'X-Forwarded-For': '203.0.113.9',
              'X-Forwarded-Prefix': '/compute'}

    def test_disabled_by_default_the_application_itself(self):
        app = proxy.http_proxy_to_wsgi_filter_factory({})(echo_app)
        self.assertIs(echo_app, app)
        self.assertFalse(self.conf.oslo_middleware
                         .enable_proxy_headers_parsing)

    def test_disabled_forged_headers_change_nothing(self):
        self.set('oslo_middleware', enable_proxy_headers_parsing=False)
        app = proxy.http_proxy_to_wsgi_filter_factory({})(echo_app)
        self.assertIs(echo_app, app)
        self.assertEqual({'host_url': 'http://localhost', 'script_name': '',
                          'remote_addr': None},
                         self.get(app, **self.FORGED).json)

    def test_enabled_oslo_middleware_on_our_configuration(self):
        self.set('oslo_middleware', enable_proxy_headers_parsing=True)
        app = proxy.http_proxy_to_wsgi_filter_factory({})(echo_app)
        self.assertIsInstance(app, http_proxy_to_wsgi.HTTPProxyToWSGI)
        self.assertIs(self.conf, app.oslo_conf)
        self.assertIsNot(cfg.CONF, app.oslo_conf)
        self.assertEqual({'host_url': 'https://api.example.org',
                          'script_name': '/compute',
                          'remote_addr': '203.0.113.9'},
                         self.get(app, **self.FORGED).json)

    def test_enabled_rfc7239_forwarded(self):
        self.set('oslo_middleware', enable_proxy_headers_parsing=True)
        app = proxy.http_proxy_to_wsgi_filter_factory({})(echo_app)
        seen = self.get(app, Forwarded='for=192.0.2.60;proto=https;'
                                       'host=api.example.org:8443').json
        self.assertEqual('https://api.example.org:8443', seen['host_url'])
        self.assertEqual('192.0.2.60', seen['remote_addr'])

    def test_option_in_the_paste_section(self):
        factory = proxy.http_proxy_to_wsgi_filter_factory(
            {}, enable_proxy_headers_parsing='true')
        self.assertIsInstance(factory(echo_app),
                              http_proxy_to_wsgi.HTTPProxyToWSGI)

    def test_unknown_paste_option(self):
        error = self.assertRaises(
            ValueError, proxy.http_proxy_to_wsgi_filter_factory, {},
            enable_proxy_header_parsing='true')
        self.assertIn('enable_proxy_header_parsing', str(error))

    def test_the_process_configuration_is_not_read(self):
        process = self.useFixture(na_fixtures.ConfFixture())
        proxy.register_opts(process.conf)
        process.config(enable_proxy_headers_parsing=True,
                       group='oslo_middleware')
        process.config(allowed_origin=[ORIGIN], group='cors')
        self.assertIs(echo_app,
                      proxy.http_proxy_to_wsgi_filter_factory({})(echo_app))
        self.assertIs(echo_app, proxy.cors_filter_factory({})(echo_app))


class TestCORSFactory(FactoryTestCase):

    def preflight(self, app, origin, method='POST',
                  request_headers='X-Auth-Token'):
        req = webob.Request.blank('/v2.1/os-aggregates', method='OPTIONS',
                                  headers={
                                      'Origin': origin,
                                      'Access-Control-Request-Method': method,
                                      'Access-Control-Request-Headers':
                                          request_headers})
        return req.get_response(app)

    def test_no_allowed_origin_the_application_itself(self):
        app = proxy.cors_filter_factory({})(echo_app)
        self.assertIs(echo_app, app)
        self.assertIsNone(self.conf.cors.allowed_origin)

    def test_allowed_origin_oslo_middleware_on_our_configuration(self):
        self.set('cors', allowed_origin=[ORIGIN])
        app = proxy.cors_filter_factory({})(echo_app)
        self.assertIsInstance(app, cors.CORS)
        self.assertIs(self.conf, app.oslo_conf)
        response = self.preflight(app, ORIGIN)
        self.assertEqual(200, response.status_int)
        self.assertEqual(ORIGIN,
                         response.headers['Access-Control-Allow-Origin'])
        self.assertEqual('POST',
                         response.headers['Access-Control-Allow-Methods'])
        self.assertEqual('X-Auth-Token',
                         response.headers['Access-Control-Allow-Headers'])

    def test_other_origin_gets_no_cors_headers(self):
        self.set('cors', allowed_origin=[ORIGIN])
        app = proxy.cors_filter_factory({})(echo_app)
        for response in (self.preflight(app, 'https://evil.example.org'),
                         self.get(app, Origin='https://evil.example.org')):
            self.assertEqual([], [h for h in response.headers
                                  if h.lower().startswith('access-control')])

    def test_our_default_headers(self):
        self.set('cors', allowed_origin=[ORIGIN])
        app = proxy.cors_filter_factory({})(echo_app)
        response = self.preflight(
            app, ORIGIN, 'GET', 'X-Auth-Token, OpenStack-API-Version, '
                                'X-OpenStack-Request-ID, Content-Type')
        self.assertIn('Access-Control-Allow-Origin', response.headers)
        # Identity headers are for keystonemiddleware to set, not browsers.
        response = self.preflight(app, ORIGIN, 'GET', 'X-Roles')
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)
        response = self.get(app, Origin=ORIGIN)
        self.assertEqual(
            proxy.CORS_EXPOSE_HEADERS,
            response.headers['Access-Control-Expose-Headers'].split(','))

    def test_configuration_file_beats_our_defaults(self):
        self.set('cors', allowed_origin=[ORIGIN], allow_headers=['X-Roles'])
        app = proxy.cors_filter_factory({})(echo_app)
        response = self.preflight(app, ORIGIN, 'GET', 'X-Roles')
        self.assertIn('Access-Control-Allow-Origin', response.headers)

    def test_options_in_the_paste_section(self):
        factory = proxy.cors_filter_factory(
            {}, allowed_origin=ORIGIN + ',https://other.example.org',
            max_age='60', oslo_config_project='nova-aggregates')
        app = factory(echo_app)
        self.assertIsInstance(app, cors.CORS)
        response = self.preflight(app, 'https://other.example.org')
        self.assertEqual('60', response.headers['Access-Control-Max-Age'])

    def test_unknown_paste_option(self):
        self.assertRaises(ValueError, proxy.cors_filter_factory, {},
                          allowed_origins=ORIGIN)


class TestProcessConfiguration(testtools.TestCase):

    def test_the_process_configuration_is_ours(self):
        self.assertIs(na_conf.CONF, proxy.configuration())


class TestSampleDefaults(testtools.TestCase):

    def test_generator_hook_sets_our_defaults(self):
        # The hook changes the library's option definitions: run it in a
        # process of its own.
        script = (
            'import json\n'
            'from nova_aggregates.api import proxy\n'
            'from oslo_middleware import opts\n'
            'proxy.set_lib_defaults()\n'
            'print(json.dumps({group: {o.dest: o.default for o in options}\n'
            '                  for group, options in opts.list_opts_cors() +\n'
            '                  opts.list_opts_healthcheck()}))\n')
        result = subprocess.run([sys.executable, '-c', script],
                                capture_output=True, text=True, timeout=60,
                                check=True)
        defaults = json.loads(result.stdout)
        for group, values in proxy.LIB_DEFAULTS.items():
            for name, value in values.items():
                self.assertEqual(value, defaults[group][name],
                                 (group, name))
