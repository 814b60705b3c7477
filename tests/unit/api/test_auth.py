"""keystonecontext trusts identity headers only behind auth_token, and
authtoken_filter_factory hands auth_token the service's configuration."""

import configparser
import json
import logging
import os
from xml.etree import ElementTree

import fixtures
from oslo_config import cfg
from paste import deploy
import testtools
import webob

from nova_aggregates.api import auth
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from tests import fixtures as na_fixtures

XML_NAMESPACE = 'http://docs.openstack.org/compute/api/v1.1'
#: What a client forging an administrator would send.
FORGED = {'X-Identity-Status': 'Confirmed', 'X-User-Id': 'mallory',
          'X-Project-Id': 'p1', 'X-Roles': 'admin,member'}
OUR_KEYSTONE = 'http://keystone.ours.example:5000/v3'


class _App:
    """The application behind the filter: records the context it got."""

    def __init__(self):
        self.contexts = []

    @webob.dec.wsgify
    def __call__(self, req):
        self.contexts.append(req.environ.get(wsgi.ENVIRON_CONTEXT))
        return webob.Response(json={'ok': True})


class TestKeystoneContext(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.app = _App()
        self.filter = auth.keystone_context_filter_factory({})(self.app)
        self.log = self.useFixture(fixtures.FakeLogger(
            name=auth.__name__, level=logging.INFO))

    def call(self, path='/os-aggregates', headers=None, script='/v2.1',
             through_auth_token=False, accept=None):
        req = webob.Request.blank(path, headers=headers or {})
        req.environ['SCRIPT_NAME'] = script
        req.environ['openstack.request_id'] = 'req-test-1'
        if accept:
            req.headers['Accept'] = accept
        if through_auth_token:
            # What auth_token leaves for every request it lets through.
            req.environ[auth.AUTH_TOKEN_ENVIRON] = object()
        return req.get_response(self.filter)

    def assertJSONFault(self, response):
        self.assertEqual(401, response.status_int)
        self.assertEqual('application/json', response.content_type)
        self.assertEqual({'unauthorized': {
            'code': 401, 'message': 'Authentication required.'}},
            json.loads(response.body))

    def test_forged_headers_without_auth_token_are_refused(self):
        response = self.call(headers=FORGED)
        self.assertJSONFault(response)
        self.assertEqual([], self.app.contexts)

    def test_refusal_logs_the_misconfigured_pipeline_once(self):
        self.call(headers=FORGED, script='/v1.1')
        lines = [line for line in self.log.output.splitlines() if line]
        self.assertEqual(1, len(lines), self.log.output)
        self.assertIn('/v1.1', lines[0])
        self.assertIn('req-test-1', lines[0])
        self.assertIn('auth_token (the authtoken filter) must run before '
                      'keystonecontext', lines[0])

    def test_log_level_is_error(self):
        records = []

        class _Handler(logging.Handler):
            def emit(self, record):
                records.append(record)

        logger = logging.getLogger(auth.__name__)
        handler = _Handler()
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.call(headers=FORGED)
        self.assertEqual([logging.ERROR], [r.levelno for r in records])

    def test_refusal_without_any_header(self):
        self.assertJSONFault(self.call())
        self.assertIn('must run before keystonecontext', self.log.output)

    def test_refusal_in_xml_on_the_legacy_surface(self):
        response = self.call('/p1/os-aggregates.xml', headers=FORGED,
                             script='/v1.1')
        self.assertEqual(401, response.status_int)
        self.assertEqual('application/xml', response.content_type)
        root = ElementTree.fromstring(response.body)
        self.assertEqual('{%s}unauthorized' % XML_NAMESPACE, root.tag)
        self.assertEqual('401', root.get('code'))

    def test_version_documents_need_nothing(self):
        for path in ('', '/'):
            response = self.call(path)
            self.assertEqual(200, response.status_int, path)
        self.assertEqual('', self.log.output)

    def test_identity_set_by_auth_token(self):
        response = self.call(headers=FORGED, through_auth_token=True)
        self.assertEqual(200, response.status_int, response.body)
        [ctx] = self.app.contexts
        self.assertEqual(('mallory', 'p1', ['admin', 'member'], True,
                          'req-test-1'),
                         (ctx.user_id, ctx.project_id, ctx.roles,
                          ctx.is_admin, ctx.request_id))
        self.assertEqual('', self.log.output)

    def test_member_is_not_admin(self):
        self.call(headers=dict(FORGED, **{'X-Roles': 'member, reader'}),
                  through_auth_token=True)
        [ctx] = self.app.contexts
        self.assertEqual((['member', 'reader'], False),
                         (ctx.roles, ctx.is_admin))

    def test_unconfirmed_or_unscoped_tokens(self):
        # auth_token lets these through only with delay_auth_decision, or
        # for tokens scoped to no project (domain, system).
        for change in ({'X-Identity-Status': 'Invalid'},
                       {'X-Identity-Status': None},
                       {'X-User-Id': None}, {'X-Project-Id': None}):
            headers = {k: v for k, v in dict(FORGED, **change).items()
                       if v is not None}
            response = self.call(headers=headers, through_auth_token=True)
            self.assertEqual(401, response.status_int, change)
            self.assertIn(b'unauthorized', response.body)
        self.assertEqual([], self.app.contexts)
        self.assertEqual('', self.log.output)


class TestAuthTokenFilterFactory(testtools.TestCase):
    """auth_token reads [keystone_authtoken] of nova_aggregates.conf.CONF,
    whatever object that is, never oslo.config's global CONF by itself."""

    def setUp(self):
        super().setUp()
        # A ConfigOpts of our own, as a later change will give the service.
        self.conf = cfg.ConfigOpts()
        na_conf.register_opts(self.conf)
        self.conf([], project='nova-aggregates', default_config_files=[])
        self.useFixture(fixtures.MonkeyPatch(
            'nova_aggregates.conf.CONF', self.conf))
        self.app = _App()

    def set_uri(self, conf, uri):
        from keystonemiddleware import auth_token
        for group, opts in auth_token.list_opts():
            conf.register_opts(opts, group=group)
        conf.set_override('www_authenticate_uri', uri,
                          group='keystone_authtoken')
        self.addCleanup(conf.clear_override, 'www_authenticate_uri',
                        group='keystone_authtoken')

    def unauthenticated(self, wrapped, path='/os-aggregates'):
        """A request without a token: auth_token answers 401 itself, and
        names the Keystone it was configured with; no network needed."""
        req = webob.Request.blank(path, headers=FORGED)
        return req.get_response(wrapped)

    def test_reads_our_configuration_object(self):
        self.set_uri(self.conf, OUR_KEYSTONE)
        # The global object says otherwise; it must not be read.
        self.set_uri(cfg.CONF, 'http://global.example:5000/v3')
        wrapped = auth.authtoken_filter_factory({})(self.app)
        response = self.unauthenticated(wrapped)
        self.assertEqual(401, response.status_int)
        self.assertEqual('Keystone uri="%s"' % OUR_KEYSTONE,
                         response.headers['WWW-Authenticate'])
        self.assertEqual([], self.app.contexts)

    def test_every_filter_built_reads_our_configuration(self):
        # auth_token pops oslo_config_config out of the dict it gets (its
        # own filter_factory's second filter reads cfg.CONF): a second
        # filter from our factory must still read ours.
        self.set_uri(self.conf, OUR_KEYSTONE)
        factory = auth.authtoken_filter_factory({})
        for _ in range(2):
            response = self.unauthenticated(factory(self.app))
            self.assertEqual('Keystone uri="%s"' % OUR_KEYSTONE,
                             response.headers['WWW-Authenticate'])

    def test_paste_options_of_the_filter_are_passed_through(self):
        self.set_uri(self.conf, OUR_KEYSTONE)
        seen = []

        @webob.dec.wsgify
        def inner(req):
            seen.append(dict(req.headers))
            return webob.Response(status=401)

        wrapped = auth.authtoken_filter_factory(
            {}, www_authenticate_uri='http://from-paste.example:5000/v3',
            delay_auth_decision='true')(inner)
        response = self.unauthenticated(wrapped)
        # Both options of the filter section were applied: the URI, and
        # delay_auth_decision (auth_token let the request go on, marked
        # unconfirmed, without the forged identity).
        self.assertEqual('Keystone uri="http://from-paste.example:5000/v3"',
                         response.headers['WWW-Authenticate'])
        [headers] = seen
        self.assertEqual('Invalid', headers['X-Identity-Status'])
        for name in ('X-User-Id', 'X-Project-Id', 'X-Roles'):
            self.assertNotIn(name, headers)

    def test_the_paste_default_section_does_not_reach_auth_token(self):
        self.set_uri(self.conf, OUR_KEYSTONE)
        wrapped = auth.authtoken_filter_factory(
            {'www_authenticate_uri': 'http://paste-default.example',
             'here': '/etc', '__file__': '/etc/api-paste.ini'})(self.app)
        response = self.unauthenticated(wrapped)
        self.assertEqual('Keystone uri="%s"' % OUR_KEYSTONE,
                         response.headers['WWW-Authenticate'])

    def test_paste_cannot_point_auth_token_at_another_configuration(self):
        self.set_uri(self.conf, OUR_KEYSTONE)
        log = self.useFixture(fixtures.FakeLogger(name=auth.__name__))
        wrapped = auth.authtoken_filter_factory(
            {}, oslo_config_project='someone-else')(self.app)
        response = self.unauthenticated(wrapped)
        self.assertEqual('Keystone uri="%s"' % OUR_KEYSTONE,
                         response.headers['WWW-Authenticate'])
        self.assertIn('Ignoring oslo_config_project', log.output)

    def test_version_documents_bypass_auth_token(self):
        self.set_uri(self.conf, OUR_KEYSTONE)
        wrapped = auth.authtoken_filter_factory({})(self.app)
        for path in ('', '/'):
            response = webob.Request.blank(path).get_response(wrapped)
            self.assertEqual(200, response.status_int, path)


class TestMisconfiguredPipeline(testtools.TestCase):
    """The packaged paste file with authtoken left out of the keystone
    pipelines, as the operator guide's old example had it: forged headers
    get a 401 and the log names the surface."""

    def setUp(self):
        super().setUp()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        self.conf_fixture.config(auth_strategy='keystone', group='api')
        self.conf_fixture.config(compute_driver='fake')
        self.useFixture(na_fixtures.DatabaseFixture(self.conf_fixture))
        parser = configparser.RawConfigParser()
        parser.read(na_fixtures.PASTE_CONFIG)
        for section in ('composite:compute_legacy', 'composite:compute_v21'):
            parser.set(section, 'keystone', parser.get(
                section, 'keystone').replace(' authtoken ', ' '))
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'api-paste.ini')
        with open(path, 'w') as f:
            parser.write(f)
        self.app = deploy.loadapp('config:' + path, name='osapi_compute')
        self.log = self.useFixture(fixtures.FakeLogger(
            name=auth.__name__, level=logging.INFO))

    def test_forged_admin_is_refused_on_every_surface(self):
        for prefix, surface in (('/v2.1', '/v2.1'), ('/v1.1/p1', '/v1.1'),
                                ('/v2/p1', '/v2')):
            response = webob.Request.blank(
                prefix + '/os-aggregates', headers=FORGED).get_response(
                    self.app)
            self.assertEqual(401, response.status_int, prefix)
            self.assertEqual({'unauthorized': {
                'code': 401, 'message': 'Authentication required.'}},
                json.loads(response.body))
            self.assertIn('request to %s ' % surface, self.log.output)
        self.assertEqual(3, len(self.log.output.splitlines()))
