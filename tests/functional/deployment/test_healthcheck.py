"""``/healthcheck`` of the paste pipeline (etc/api-paste.ini), in process:
oslo.middleware's Healthcheck with the disable file and our database
backend, on a database that answers, one whose server is not there, and
one whose server accepts connections and never answers."""

import json
import os
import socket
import threading
import time

import fixtures
from paste import deploy
import testtools
import webob

from nova_aggregates.api import healthcheck
from nova_aggregates.api import proxy
from nova_aggregates import service
from tests.functional import backends
from tests import fixtures as na_fixtures
from tests.support import process


free_port = process.free_port


def probe_threads():
    return [t for t in threading.enumerate()
            if t.name == 'healthcheck-database']


class HealthcheckTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        # The factories register these; overrides need them earlier.
        healthcheck.register_opts(self.conf_fixture.conf)
        proxy.register_opts(self.conf_fixture.conf)
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.drain_file = os.path.join(self.dir, 'drain')
        self.conf_fixture.config(disable_by_file_path=self.drain_file,
                                 group='healthcheck')
        self.addCleanup(self._wait_for_probes)

    def _wait_for_probes(self):
        # No probe thread of this test outlives it.
        deadline = time.monotonic() + 10
        while probe_threads() and time.monotonic() < deadline:
            time.sleep(0.02)

    def load(self, connection=None, **options):
        """The paste application on a fresh SQLite database, or on
        ``connection`` (not migrated, not even connected to: oslo.db tries
        no connection at start-up with ``max_retries = 0``)."""
        for name, value in options.items():
            self.conf_fixture.config(**{name: value, 'group': 'healthcheck'})
        if connection is None:
            self.useFixture(na_fixtures.DatabaseFixture(self.conf_fixture))
        else:
            self.conf_fixture.config(connection=connection, max_retries=0,
                                     group='database')
            service.reset()
            self.addCleanup(service.reset)
        self.app = deploy.loadapp('config:' + na_fixtures.PASTE_CONFIG,
                                  name='osapi_compute')
        return self.app

    def check(self, method='GET', accept=None, path='/healthcheck',
              environ=None):
        headers = {'Accept': accept} if accept else {}
        req = webob.Request.blank(path, method=method, headers=headers,
                                  environ=environ)
        started = time.monotonic()
        response = req.get_response(self.app)
        response.seconds = time.monotonic() - started
        return response

    def assertUnavailable(self, response, reason):
        self.assertEqual(503, response.status_int, response.body)
        self.assertIn(reason, response.text.splitlines())


class TestHealthcheck(HealthcheckTestCase):

    def test_healthy_get_and_head_without_a_token(self):
        self.load()
        response = self.check()
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('text/plain', response.content_type)
        # One reason per backend: disable_by_file, database.
        self.assertEqual('OK\nOK', response.text)
        response = self.check('HEAD')
        self.assertEqual(204, response.status_int)
        self.assertEqual(b'', response.body)
        self.assertEqual(200, self.check(path='/healthcheck/').status_int)

    def test_json_without_details_by_default(self):
        self.load()
        response = self.check(accept='application/json')
        self.assertEqual(200, response.status_int)
        self.assertEqual({'detailed': False, 'reasons': ['OK', 'OK']},
                         json.loads(response.body))

    def test_detailed_names_the_checks(self):
        self.load(detailed=True)
        body = json.loads(self.check(accept='application/json').body)
        self.assertTrue(body['detailed'])
        details = [r['details'] for r in body['reasons']]
        self.assertIn("Path '%s' was not found" % self.drain_file, details)
        self.assertTrue(any(d.startswith('SELECT 1 answered in')
                            for d in details), details)

    def test_only_get_and_head(self):
        self.load()
        for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'):
            response = self.check(method)
            self.assertEqual(405, response.status_int, method)
            self.assertEqual('GET, HEAD', response.headers['Allow'])

    def test_unknown_path_below(self):
        self.load()
        self.assertEqual(404, self.check(path='/healthcheck/x').status_int)

    def test_disable_file_drains_the_node(self):
        self.load()
        open(self.drain_file, 'w').close()
        self.assertUnavailable(self.check(), 'DISABLED BY FILE')
        self.assertEqual(503, self.check('HEAD').status_int)
        os.unlink(self.drain_file)
        self.assertEqual(200, self.check().status_int)

    def test_requests_from_outside_the_allowed_ranges_are_not_answered(self):
        self.load(allowed_source_ranges=['10.0.0.0/8'])
        inside = self.check(environ={'REMOTE_ADDR': '10.1.2.3'})
        self.assertEqual(200, inside.status_int)
        outside = self.check(environ={'REMOTE_ADDR': '192.0.2.1'})
        self.assertEqual(404, outside.status_int, outside.body)

    def test_a_backend_that_is_not_installed_fails_the_start(self):
        error = self.assertRaises(ValueError, self.load,
                                  backends=['disable_by_file', 'nosuch'])
        self.assertIn('nosuch', str(error))

    def test_disable_file_only(self):
        self.load(backends=['disable_by_file'])
        self.assertEqual('OK', self.check().text)


class TestUnreachableDatabase(HealthcheckTestCase):
    """A PostgreSQL URL whose server is not there, or does not answer."""

    def setUp(self):
        super().setUp()
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            if backends.POSTGRESQL in backends.required_backends():
                raise
            self.skipTest('psycopg2 is not installed')

    def test_nothing_listens(self):
        port = free_port()
        self.load('postgresql+psycopg2://u:p@127.0.0.1:%d/db' % port)
        response = self.check()
        self.assertUnavailable(response, 'DATABASE UNAVAILABLE')
        self.assertIn('OK', response.text.splitlines())
        self.assertLess(response.seconds, healthcheck.DatabaseHealthcheck
                        .timeout)
        self.assertEqual(503, self.check('HEAD').status_int)

    def test_server_that_never_answers(self):
        self.useFixture(fixtures.MockPatchObject(
            healthcheck.DatabaseHealthcheck, 'timeout', 0.3))
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(('127.0.0.1', 0))
        # Connections complete in the kernel's backlog; none is accepted,
        # nothing is ever answered.
        listener.listen(16)
        self.load('postgresql+psycopg2://u:p@127.0.0.1:%d/db' %
                  listener.getsockname()[1])
        first = self.check()
        self.assertUnavailable(first, 'DATABASE TIMEOUT')
        self.assertLess(first.seconds, 2)
        self.assertEqual(1, len(probe_threads()))
        # Later probes wait for the query in flight: no second thread.
        for _ in range(3):
            self.assertUnavailable(self.check(), 'DATABASE TIMEOUT')
        self.assertEqual(1, len(probe_threads()))
        # The server goes away: the blocked query fails, the next check
        # starts a new one, which is refused at once.
        listener.close()
        self._wait_for_probes()
        self.assertEqual([], probe_threads())
        self.assertUnavailable(self.check(), 'DATABASE UNAVAILABLE')
