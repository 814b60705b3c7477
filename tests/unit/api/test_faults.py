"""faults.fault_for_exception, the one exception-to-fault mapping, and
microversion.negotiate, the one version negotiation of a request."""

from oslo_db import exception as db_exc
import testtools
import webob

from nova_aggregates.api import faults
from nova_aggregates.api import microversion
from nova_aggregates.api import wsgi
from nova_aggregates import exception


class TestFaultForException(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.req = webob.Request.blank('/v2.1/os-aggregates')

    def fault(self, exc, xml=False):
        return faults.fault_for_exception(exc, self.req, xml)

    def test_api_error_keeps_status_message_and_headers(self):
        response = self.fault(faults.APIError(405, 'No.',
                                              headers={'Allow': 'GET'}))
        self.assertEqual(405, response.status_int)
        self.assertEqual({'badMethod': {'code': 405, 'message': 'No.'}},
                         response.json)
        self.assertEqual('GET', response.headers['Allow'])

    def test_body_error(self):
        response = self.fault(wsgi.BodyError(415, 'Send JSON.'))
        self.assertEqual({'badMediaType': {'code': 415,
                                           'message': 'Send JSON.'}},
                         response.json)

    def test_typed_exceptions_by_category(self):
        for exc, status in (
                (exception.AggregateNotFound(aggregate_id=7), 404),
                (exception.AggregateNameExists(name='a'), 409),
                (exception.InvalidAvailabilityZone(), 400),
                (exception.HypervisorUnreachable(host='h', reason='r'), 502)):
            response = self.fault(exc)
            self.assertEqual(status, response.status_int)
            (body,) = response.json.values()
            self.assertEqual(str(exc), body['message'])

    def test_database_outage_is_a_503(self):
        response = self.fault(db_exc.DBConnectionError('gone'))
        self.assertEqual(503, response.status_int)
        self.assertNotIn('gone', response.text)

    def test_anything_else_is_a_500_without_details(self):
        for exc in (RuntimeError('secret'),
                    exception.DriverNotFound(name='secret')):
            response = self.fault(exc)
            self.assertEqual(500, response.status_int)
            self.assertEqual('computeFault', list(response.json)[0])
            self.assertNotIn('secret', response.text)

    def test_xml(self):
        response = self.fault(exception.AggregateNotFound(aggregate_id=7),
                              xml=True)
        self.assertEqual('application/xml', response.content_type)
        self.assertIn(b'<itemNotFound code="404"', response.body)


class TestNegotiate(testtools.TestCase):

    def environ(self, **headers):
        return webob.Request.blank('/', headers=headers).environ

    def test_picks_and_records_the_version(self):
        environ = self.environ(**{'OpenStack-API-Version': 'compute 2.41'})
        self.assertEqual((2, 41), microversion.negotiate(environ))
        self.assertEqual((2, 41), environ[wsgi.ENVIRON_VERSION])

    def test_once_per_request(self):
        environ = self.environ(**{'OpenStack-API-Version': 'compute 2.99'})
        environ[wsgi.ENVIRON_VERSION] = (2, 5)
        # A layer outside already picked (and echoes) the version.
        self.assertIsNone(microversion.negotiate(environ))
        self.assertEqual((2, 5), environ[wsgi.ENVIRON_VERSION])

    def test_without_a_header(self):
        self.assertEqual(microversion.MIN_VERSION,
                         microversion.negotiate(self.environ()))

    def test_refused(self):
        for text, status in (('2.99', 406), ('two', 400)):
            environ = self.environ(**{'X-OpenStack-Nova-API-Version': text})
            error = self.assertRaises(faults.APIError,
                                      microversion.negotiate, environ)
            self.assertEqual(status, error.status)
            self.assertNotIn(wsgi.ENVIRON_VERSION, environ)
