"""The application under a WSGI server other than nova-aggregates-api: the
body limits still answer (BodySizeLimit reads and discards, and checks its
deadline between reads), with no server support (no read deadlines, no
``gunicorn.socket``) and no hop-by-hop header of its own (wsgiref refuses
them)."""

import io
import threading
import time
from wsgiref import simple_server

import testtools
import webob

from tests.functional.server import wire
from tests import fixtures as na_fixtures

TEN_MB = 10 * 1024 * 1024
OVER = 'Request body is larger than the limit of 114688 bytes.'


class _QuietHandler(simple_server.WSGIRequestHandler):

    def log_message(self, *args):
        pass


class _TrickleInput:
    """A wsgi.input that hands out one byte per read, slowly."""

    def __init__(self, data, interval):
        self.data = data
        self.interval = interval

    def read(self, size=-1):
        time.sleep(self.interval)
        piece, self.data = self.data[:1], self.data[1:]
        return piece


class OtherServerTests(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(na_fixtures.APIFixture())

    def serve(self):
        server = simple_server.make_server('127.0.0.1', 0, self.api.app,
                                           handler_class=_QuietHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def test_wsgiref_sendall_then_read(self):
        port = self.serve()
        body = b'{"aggregate": {"name": "' + b'x' * TEN_MB + b'"}}'
        answer = wire.exchange(port, wire.head(
            'POST', '/v2.1/os-aggregates',
            (('Content-Type', 'application/json'),), length=len(body)) +
            body)
        self.assertEqual(413, answer.status, answer)
        self.assertEqual({'overLimit': {'code': 413, 'message': OVER}},
                         answer.json())
        self.assertEqual(wire.EOF, answer.ended)
        # A body within the limit, read ahead by the filter, still works.
        answer = wire.exchange(port, wire.head(
            'POST', '/v2.1/os-aggregates',
            (('Content-Type', 'application/json'),), length=31) +
            b'{"aggregate": {"name": "ok-1"}}')
        self.assertEqual(200, answer.status, answer)
        self.assertEqual('ok-1', answer.json()['aggregate']['name'])

    def test_body_deadline_checked_between_reads(self):
        self.api.conf_fixture.config(client_body_timeout=0.5, group='api')
        body = b'{"aggregate": {"name": "slow"}}'

        def post(stream):
            req = webob.Request.blank(
                '/v2.1/os-aggregates', method='POST',
                headers={'X-Auth-Token': 'admin:admin',
                         'Content-Type': 'application/json'})
            req.environ['CONTENT_LENGTH'] = str(len(body))
            req.environ['wsgi.input'] = stream
            req.environ['webob.is_body_seekable'] = False
            return req.get_response(self.api.app)

        started = time.monotonic()
        response = post(_TrickleInput(body, 0.1))
        self.assertEqual(408, response.status_int, response.body)
        (name, fault), = response.json.items()
        self.assertEqual(408, fault['code'])
        self.assertIn('within 0.5 seconds', fault['message'])
        self.assertLess(time.monotonic() - started, 2)
        # The same body, quick enough, is served.
        self.assertEqual(200, post(io.BytesIO(body)).status_int)
