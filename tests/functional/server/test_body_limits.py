"""Oversized and slow request bodies, and slow headers, against a real
``nova-aggregates-api``: every client gets its 413 (or 408) whatever its
sending pattern, and no slow client holds a request thread for longer than
its deadline.

One server (fake driver) for the whole class, with short deadlines:
``[api] client_body_timeout`` and ``client_socket_timeout`` of
``DEADLINE`` seconds; ``max_discard_body_size`` is the default 16 MiB.
"""

import http.client
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from xml.etree import ElementTree

import requests
import testtools
from testtools import content

from tests.functional.clients import server as srv
from tests.functional.server import wire
from tests.support import http as support_http

LIMIT = 114688  # [api] max_request_body_size default
CAP = 16 * 1024 * 1024  # [api] max_discard_body_size default
TEN_MB = 10 * 1024 * 1024
DEADLINE = 2.0
# What a loaded two-core machine may add to a deadline.
SLACK = 2.5
JSON = ('Content-Type', 'application/json')
XML_NS = '{http://docs.openstack.org/compute/api/v1.1}'
OVER = 'Request body is larger than the limit of %d bytes.' % LIMIT


def json_body(size):
    """A create body of exactly ``size`` bytes."""
    start, end = b'{"aggregate": {"name": "', b'"}}'
    return start + b'x' * (size - len(start) - len(end)) + end


def xml_body(size):
    start, end = b'<aggregate name="', b'"/>'
    return start + b'x' * (size - len(start) - len(end)) + end


class _Trickle(threading.Thread):
    """Sends ``data`` one byte per ``interval`` until it is sent, the
    connection fails or ``stop`` is set."""

    def __init__(self, sock, data, interval=1.0):
        super().__init__(daemon=True)
        self.sock = sock
        self.data = data
        self.interval = interval
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        for offset in range(len(self.data)):
            if self.stop.wait(self.interval):
                return
            try:
                self.sock.send(self.data[offset:offset + 1])
            except OSError:
                return
            self.sent += 1


class BodyLimitTests(testtools.TestCase):
    """Under ``[api] server = gunicorn`` (our worker)."""

    SERVER = 'gunicorn'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = srv.APIServerFixture(driver='fake', sections={'api': {
            'server': cls.SERVER,
            'client_body_timeout': DEADLINE,
            'client_socket_timeout': DEADLINE,
        }})
        cls.server.setUp()
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.addOnException(self._server_log)

    def _server_log(self, exc_info):
        self.addDetail('server-log', content.text_content(
            self.server.output()[-20000:]))

    # -- checks -------------------------------------------------------------

    def assertOverLimit(self, answer):
        """A JSON 413 overLimit fault, and the connection closed cleanly."""
        self.assertEqual(413, answer.status, answer)
        self.assertEqual({'overLimit': {'code': 413, 'message': OVER}},
                         answer.json())
        self.assertEqual('close', answer.header('connection'), answer)
        self.assertEqual(wire.EOF, answer.ended, answer)

    def assertServing(self, timeout=10):
        """Normal requests work: a list, and a create, rename and delete
        with bodies on one kept-alive connection."""
        conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                          timeout=timeout)
        try:
            headers = {'X-Auth-Token': wire.ADMIN,
                       'Content-Type': 'application/json'}
            conn.request('GET', '/v2.1/os-aggregates', headers=headers)
            response = conn.getresponse()
            response.read()
            self.assertEqual(200, response.status)
            sock = conn.sock
            name = 'agg-%s' % uuid.uuid4().hex[:8]
            conn.request('POST', '/v2.1/os-aggregates', headers=headers,
                         body=b'{"aggregate": {"name": "%s"}}' %
                         name.encode())
            response = conn.getresponse()
            created = response.read()
            self.assertEqual(200, response.status, created)
            agg_id = int(created.split(b'"id": ')[1].split(b',')[0])
            conn.request('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                         headers=headers,
                         body=b'{"aggregate": {"name": "%s-2"}}' %
                         name.encode())
            response = conn.getresponse()
            self.assertIn(b'%s-2' % name.encode(), response.read())
            self.assertEqual(200, response.status)
            conn.request('DELETE', '/v2.1/os-aggregates/%d' % agg_id,
                         headers=headers)
            response = conn.getresponse()
            response.read()
            self.assertEqual(200, response.status)
            # All of it on the one connection.
            self.assertIs(sock, conn.sock)
        finally:
            conn.close()

    # -- clients that send the whole body before they read ------------------

    def test_raw_socket_sendall_then_read_json(self):
        body = json_body(TEN_MB)
        answer = wire.exchange(self.port, wire.head(
            'POST', '/v2.1/os-aggregates', (JSON,), length=len(body)) + body)
        self.assertOverLimit(answer)
        self.assertEqual('application/json', answer.header('content-type'))
        self.assertLess(answer.elapsed, 10)
        self.assertServing()

    def test_raw_socket_sendall_then_read_legacy_xml(self):
        body = xml_body(TEN_MB)
        answer = wire.exchange(self.port, wire.head(
            'POST', '/v1.1/admin/os-aggregates',
            (('Content-Type', 'application/xml'),
             ('Accept', 'application/xml')), length=len(body)) + body)
        self.assertEqual(413, answer.status, answer)
        self.assertTrue(answer.header('content-type').startswith(
            'application/xml'), answer)
        fault = ElementTree.fromstring(answer.body)
        self.assertEqual(XML_NS + 'overLimit', fault.tag)
        self.assertEqual('413', fault.get('code'))
        self.assertEqual(OVER, fault.find(XML_NS + 'message').text)
        self.assertEqual('close', answer.header('connection'))
        self.assertEqual(wire.EOF, answer.ended)
        self.assertServing()

    def test_requests_gets_a_response(self):
        url = self.server.base_url + '/v2.1/os-aggregates'
        headers = {'X-Auth-Token': wire.ADMIN,
                   'Content-Type': 'application/json'}
        with requests.Session() as session:
            response = session.post(url, data=json_body(TEN_MB),
                                    headers=headers, timeout=30)
            self.assertEqual(413, response.status_code)
            self.assertEqual({'overLimit': {'code': 413, 'message': OVER}},
                             response.json())
            self.assertEqual('close', response.headers['Connection'])
            # The session goes on (on a new connection).
            response = session.get(url, headers=headers, timeout=30)
            self.assertEqual(200, response.status_code)
        self.assertServing()

    def test_chunked_without_length(self):
        body = json_body(TEN_MB)
        answer = wire.exchange(self.port, wire.head(
            'POST', '/v2.1/os-aggregates', (JSON,), chunked=True) +
            support_http.chunked(body))
        self.assertOverLimit(answer)
        # requests sends a generator chunked.
        pieces = (body[i:i + 65536] for i in range(0, len(body), 65536))
        response = requests.post(
            self.server.base_url + '/v2.1/os-aggregates', data=pieces,
            headers={'X-Auth-Token': wire.ADMIN,
                     'Content-Type': 'application/json'}, timeout=30)
        self.assertEqual(413, response.status_code)
        self.assertEqual('overLimit', list(response.json())[0])
        self.assertServing()

    def test_declared_length_over_the_cap_is_refused_unread(self):
        sock = wire.connect(self.port)
        self.addCleanup(sock.close)
        started = time.monotonic()
        # 64 MiB announced, 64 KiB sent; the answer comes without the rest.
        sock.sendall(wire.head('POST', '/v2.1/os-aggregates', (JSON,),
                               length=64 * 1024 * 1024) + b'x' * 65536)
        answer = wire.read_answer(sock, timeout=10, started=started)
        self.assertOverLimit(answer)
        self.assertLess(answer.elapsed, 2 + SLACK)
        self.assertServing()

    # -- curl: reads while it sends -----------------------------------------

    def _curl(self, size, *options):
        if not shutil.which('curl'):
            self.skipTest('curl is not installed')
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        upload = os.path.join(tmp, 'body.json')
        with open(upload, 'wb') as f:
            f.write(json_body(size))
        out = os.path.join(tmp, 'out')
        run = subprocess.run(
            ['curl', '-sS', '--max-time', '30', '-o', out,
             '-w', '%{http_code}', '-X', 'POST',
             '-H', 'X-Auth-Token: ' + wire.ADMIN,
             '-H', 'Content-Type: application/json'] + list(options) +
            ['--data-binary', '@' + upload,
             self.server.base_url + '/v2.1/os-aggregates'],
            capture_output=True, text=True, timeout=60)
        with open(out, 'rb') as f:
            return run, f.read()

    def test_curl(self):
        for size, options in (
                (TEN_MB, ()),  # with Expect: 100-continue
                (TEN_MB, ('-H', 'Expect:')),  # sends at once
                (TEN_MB, ('-H', 'Transfer-Encoding: chunked')),
                # Over the cap: refused at once while curl is sending.
                (CAP + TEN_MB, ()),
                (CAP + TEN_MB, ('-H', 'Expect:')),
                (CAP + TEN_MB, ('-H', 'Transfer-Encoding: chunked'))):
            run, body = self._curl(size, *options)
            self.assertEqual((0, '413'), (run.returncode, run.stdout),
                             (size, options, run.stderr))
            self.assertEqual(b'{"overLimit": {"code": 413, "message": "%s"}}'
                             % OVER.encode(), body)
        self.assertServing()

    # -- slow clients --------------------------------------------------------

    def trickled(self, start, rest, interval):
        """Send ``start``, then ``rest`` slowly; check that the server
        serves others meanwhile; the answer the slow client got."""
        sock = wire.connect(self.port)
        self.addCleanup(sock.close)
        started = time.monotonic()
        sock.sendall(start)
        trickle = _Trickle(sock, rest, interval=interval)
        self.addCleanup(trickle.stop.set)
        trickle.start()
        time.sleep(0.5)
        status, _ = self.server.get_json('/v2.1/os-aggregates')
        self.assertEqual(200, status)
        answer = wire.read_answer(sock, timeout=DEADLINE + SLACK + 5,
                                  started=started)
        trickle.stop.set()
        return answer

    def test_body_trickled_a_byte_a_second(self):
        answer = self.trickled(
            wire.head('POST', '/v2.1/os-aggregates', (JSON,), length=1000),
            json_body(1000), interval=1.0)
        self.assertNotEqual(wire.OPEN, answer.ended, answer)
        if answer.status is not None:
            self.assertEqual(408, answer.status, answer)
            fault = answer.json()['requestTimeout']
            self.assertEqual(408, fault['code'])
            self.assertIn('did not arrive within %g seconds' % DEADLINE,
                          fault['message'])
            self.assertEqual('close', answer.header('connection'))
        self.assertGreater(answer.elapsed, DEADLINE - 0.2)
        self.assertLess(answer.elapsed, DEADLINE + SLACK)
        self.assertServing()

    def test_slowloris_headers(self):
        answer = self.trickled(
            b'GET /v2.1/os-aggregates HTTP/1.1\r\nHost: x\r\n',
            b'X-Slow: ' + b'z' * 100, interval=0.5)
        # Closed without an answer: there was no request yet.
        self.assertIn(answer.ended, (wire.EOF, wire.RESET), answer)
        self.assertIsNone(answer.status, answer)
        self.assertGreater(answer.elapsed, DEADLINE - 0.2)
        self.assertLess(answer.elapsed, DEADLINE + SLACK)
        self.assertServing()

    def start_slow_clients(self, count=12):
        """``count`` connections trickling, every other one its body after
        its head, the others their head: (heads, bodies, trickles)."""
        heads, bodies, trickles = [], [], []
        for number in range(count):
            sock = wire.connect(self.port)
            self.addCleanup(sock.close)
            if number % 2:
                sock.sendall(wire.head('POST', '/v2.1/os-aggregates',
                                       (JSON,), length=1000))
                rest = json_body(1000)
                bodies.append(sock)
            else:
                sock.sendall(b'GET /v2.1 HTTP/1.1\r\n')
                rest = b'Host: ' + b'h' * 100
                heads.append(sock)
            trickle = _Trickle(sock, rest, interval=0.5)
            self.addCleanup(trickle.stop.set)
            trickle.start()
            trickles.append(trickle)
        return heads, bodies, trickles

    def test_more_slow_clients_than_request_threads(self):
        # 8 threads ([api] threads); 6 slow bodies and 6 slow headers.
        heads, bodies, trickles = self.start_slow_clients()
        socks = heads + bodies
        started = time.monotonic()
        time.sleep(0.5)
        # Every thread may be taken: this one waits for a deadline at most.
        status, _ = self.server.get_json('/v2.1/os-aggregates')
        self.assertEqual(200, status)
        self.assertLess(time.monotonic() - started, DEADLINE + SLACK)
        for sock in socks:
            answer = wire.read_answer(sock, timeout=2 * DEADLINE + SLACK,
                                      started=started)
            self.assertNotEqual(wire.OPEN, answer.ended, answer)
            self.assertIn(answer.status, (None, 408), answer)
        # At most two rounds of deadlines (12 clients, 8 threads).
        self.assertLess(time.monotonic() - started, 2 * DEADLINE + SLACK)
        for trickle in trickles:
            trickle.stop.set()
        self.assertServing()

    def test_body_in_a_few_pieces_within_the_deadline(self):
        # Not a per-read timeout that a slowish client trips over: a body
        # that arrives within the deadline is served.
        body = b'{"aggregate": {"name": "pieces-%s"}}' % \
            uuid.uuid4().hex[:8].encode()
        sock = wire.connect(self.port)
        self.addCleanup(sock.close)
        sock.sendall(wire.head('POST', '/v2.1/os-aggregates', (JSON,),
                               length=len(body), close=True))
        for offset in range(0, len(body), 12):
            time.sleep(DEADLINE / 8)
            sock.sendall(body[offset:offset + 12])
        answer = wire.read_answer(sock, timeout=10)
        self.assertEqual(200, answer.status, answer)
        self.assertEqual(wire.EOF, answer.ended)
        self.assertServing()


class GranianBodyLimitTests(BodyLimitTests):
    """Under ``[api] server = granian``: the same, but for bodies that come
    slowly.

    granian reads request heads itself (``client_socket_timeout`` is its
    header read timeout, no thread is taken); the body is read by the
    request thread in ``BodySizeLimit``, with granian's blocking read: it
    returns once all it was asked for has arrived (a body within the limit
    is asked for whole) or the client closes.  ``client_body_timeout`` is
    then checked between reads only, so a client that trickles or stalls
    its body holds its request thread, with no answer, for as long as it
    keeps the connection open.  In front of granian, a proxy that buffers
    request bodies with a timeout of its own (nginx, haproxy) is what
    bounds such clients.
    """

    SERVER = 'granian'

    def test_body_trickled_a_byte_a_second(self):
        answer = self.trickled(
            wire.head('POST', '/v2.1/os-aggregates', (JSON,), length=1000),
            json_body(1000), interval=1.0)
        # Still waiting for the rest, well past the deadline: no 408.
        self.assertEqual(wire.OPEN, answer.ended, answer)
        self.assertIsNone(answer.status, answer)
        self.assertGreater(answer.elapsed, DEADLINE + SLACK)
        self.assertServing()

    def test_more_slow_clients_than_request_threads(self):
        # 8 threads ([api] threads); 6 slow bodies and 6 slow headers.
        heads, bodies, trickles = self.start_slow_clients()
        started = time.monotonic()
        time.sleep(0.5)
        # Slow heads hold no thread, slow bodies one each: 2 are free.
        status, _ = self.server.get_json('/v2.1/os-aggregates')
        self.assertEqual(200, status)
        self.assertLess(time.monotonic() - started, SLACK)
        # Heads: closed at the header read timeout, without an answer.
        for sock in heads:
            answer = wire.read_answer(sock, timeout=DEADLINE + SLACK,
                                      started=started)
            self.assertIn(answer.ended, (wire.EOF, wire.RESET), answer)
            self.assertIsNone(answer.status, answer)
            self.assertLess(answer.elapsed, DEADLINE + SLACK)
        # Bodies: still being read, with no answer, past two deadlines.
        for sock in bodies:
            answer = wire.read_answer(sock, timeout=0.1, started=started)
            self.assertEqual(wire.OPEN, answer.ended, answer)
            self.assertIsNone(answer.status, answer)
        self.assertGreater(time.monotonic() - started, DEADLINE)
        for trickle in trickles:
            trickle.stop.set()
        # The clients give up: their threads are free again.
        for sock in bodies:
            sock.close()
        self.assertServing()
