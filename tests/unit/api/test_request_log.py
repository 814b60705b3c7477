"""RequestLog (api/middleware.py): one line per request, written once the
server has sent the response (at ``close()``), not before."""

import logging
import time

import fixtures
from oslo_context import context as oslo_context
import testtools

from nova_aggregates.api import middleware
from nova_aggregates import context


class _ContextId(logging.Filter):
    """Puts the request id of the record's context (as oslo.log's
    formatter reads it) on the record."""

    def filter(self, record):
        record_context = getattr(record, 'context', None)
        record.context_id = getattr(record_context, 'request_id', '-')
        return True


class _Body:
    closed = False

    def __iter__(self):
        return iter([b'{}'])

    def close(self):
        self.closed = True


class TestRequestLog(testtools.TestCase):

    def _log_with_context_ids(self):
        """The request log captured as "<context's request id> <line>"."""
        logger = self.useFixture(fixtures.FakeLogger(
            name='nova_aggregates.api.requests', level=logging.INFO,
            format='%(context_id)s %(message)s'))
        context_id = _ContextId()
        requests_log = logging.getLogger('nova_aggregates.api.requests')
        requests_log.addFilter(context_id)
        self.addCleanup(requests_log.removeFilter, context_id)
        return logger

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

    def test_a_deferred_line_is_the_requests_own(self):
        # Under our worker the line is handed to it, to be written when the
        # thread is idle: with this request's duration and context, even
        # once the thread serves another request.
        logger = self._log_with_context_ids()
        deferred = []

        def app(environ, start_response):
            context.RequestContext(request_id='req-mine', overwrite=True)
            start_response('200 OK', [])
            return [b'{}']

        result = middleware.RequestLog(app)(
            {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/x',
             middleware.ENV_REQUEST_ID: 'req-mine',
             middleware.ENV_DEFER_UNTIL_IDLE: deferred.append},
            lambda *a: None)
        list(result)
        result.close()
        self.assertEqual('', logger.output)
        self.assertEqual(1, len(deferred))
        context.RequestContext(request_id='req-next', overwrite=True)
        time.sleep(0.05)
        deferred[0]()
        line, = logger.output.splitlines()
        self.assertRegex(line, r'^req-mine req-mine "GET /x" status: 200 '
                               r'time: 0\.0[0-4]')

    def test_a_deferred_line_before_auth_keeps_its_request_id(self):
        # No auth named a caller (a 401, the version documents): the line
        # still carries its own request id once the thread's next request
        # has begun.
        logger = self._log_with_context_ids()
        deferred = []
        seen = []

        def app(environ, start_response):
            seen.append(oslo_context.get_current())
            start_response('401 Unauthorized', [])
            return [b'{}']

        log = middleware.RequestLog(app)
        for req_id in ('req-first', 'req-second'):
            result = log({'REQUEST_METHOD': 'GET', 'PATH_INFO': '/x',
                          middleware.ENV_REQUEST_ID: req_id,
                          middleware.ENV_DEFER_UNTIL_IDLE: deferred.append},
                         lambda *a: None)
            list(result)
            result.close()
        # Each request ran with its own id current, and no identity.
        self.assertEqual('req-second', seen[1].request_id)
        self.assertIsNone(seen[1].user_id)
        for write in deferred:
            write()
        first, second = logger.output.splitlines()
        self.assertTrue(first.startswith('req-first req-first '), first)
        self.assertTrue(second.startswith('req-second req-second '), second)

    def test_no_identity_carried_over(self):
        # A request after an authenticated one on the same thread starts
        # without its caller.
        def app(environ, start_response):
            seen.append(oslo_context.get_current())
            start_response('200 OK', [])
            return [b'{}']

        seen = []
        context.RequestContext(request_id='req-before', user_id='alice',
                               overwrite=True)
        result = middleware.RequestLog(app)(
            {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/x',
             middleware.ENV_REQUEST_ID: 'req-after'}, lambda *a: None)
        list(result)
        result.close()
        self.assertEqual('req-after', seen[0].request_id)
        self.assertIsNone(seen[0].user_id)
