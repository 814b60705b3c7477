"""RequestLog (api/middleware.py): one line per request, written once the
server has sent the response (at ``close()``), not before."""

import logging

import fixtures
import testtools

from nova_aggregates.api import middleware


class _Body:
    closed = False

    def __iter__(self):
        return iter([b'{}'])

    def close(self):
        self.closed = True


class TestRequestLog(testtools.TestCase):

    def test_logged_at_close_after_the_body(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_aggregates.api.requests', level=logging.INFO))
        body = _Body()

        def app(environ, start_response):
            start_response('201 Created', [])
            return body

        environ = {'REQUEST_METHOD': 'POST', 'SCRIPT_NAME': '/v2.1',
                   'PATH_INFO': '/os-aggregates', 'QUERY_STRING': 'a=1',
                   middleware.ENV_REQUEST_ID: 'req-1'}
        result = middleware.RequestLog(app)(environ, lambda *a: None)
        self.assertEqual([b'{}'], list(result))
        self.assertEqual('', logger.output)
        result.close()
        self.assertTrue(body.closed)
        self.assertRegex(logger.output, r'^req-1 "POST /v2.1/os-aggregates'
                                        r'\?a=1" status: 201 time: ')
        self.assertEqual(1, len(logger.output.splitlines()))

    def test_a_body_without_close(self):
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_aggregates.api.requests', level=logging.INFO))

        def app(environ, start_response):
            start_response('404 Not Found', [])
            return [b'x']

        result = middleware.RequestLog(app)(
            {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/'}, lambda *a: None)
        self.assertEqual([b'x'], list(result))
        result.close()
        self.assertIn('"GET /" status: 404', logger.output)
