"""Two ways to send the workload's requests: real HTTP to a server
(``HTTPTransport``) and the paste application called in-process
(``WSGITransport``, for counting SQL statements and profiling).

Both time one request from the first byte sent to the last byte of the
answer read, and nothing else: JSON encoding of the request and decoding and
verification of the answer happen outside the timed section.
"""

import http.client
import json
import time

TOKEN = 'admin:admin'
JSON_HEADERS = {'Content-Type': 'application/json',
                'Accept': 'application/json'}


class BenchmarkError(Exception):
    """A wrong answer, a server that did not start, ...: the run fails."""


class Response:
    __slots__ = ('method', 'path', 'status', 'body', 'elapsed', 'etag')

    def __init__(self, method, path, status, body, elapsed, etag=None):
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        self.elapsed = elapsed
        #: The ETag header, if any.
        self.etag = etag

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BenchmarkError('%s %s: answer is not JSON (%s): %r' % (
                self.method, self.path, exc, self.body[:200]))

    def expect(self, status=200):
        if self.status != status:
            raise BenchmarkError('%s %s: expected HTTP %d, got %d: %s' % (
                self.method, self.path, status, self.status,
                self.body[:300].decode('utf-8', 'replace')))
        return self


def _encode(body):
    if body is None:
        return None
    return json.dumps(body).encode('utf-8')


class HTTPTransport:
    """One persistent keep-alive connection to 127.0.0.1:``port``."""

    #: gunicorn closes idle keep-alive connections after 5 s; reconnect
    #: (untimed) before that can happen instead of timing a reconnect.
    IDLE_RECONNECT = 3.0

    def __init__(self, port, host='127.0.0.1', token=TOKEN, timeout=300.0):
        self.host = host
        self.port = port
        self.token = token
        self.timeout = timeout
        self._conn = None
        self._last_used = 0.0
        self._connect()

    def _connect(self):
        if self._conn is not None:
            self._conn.close()
        self._conn = http.client.HTTPConnection(self.host, self.port,
                                                timeout=self.timeout)
        self._conn.connect()
        self._last_used = time.monotonic()

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, headers=None):
        data = _encode(body)
        all_headers = dict(JSON_HEADERS)
        if self.token:
            all_headers['X-Auth-Token'] = self.token
        if headers:
            all_headers.update(headers)
        if time.monotonic() - self._last_used > self.IDLE_RECONNECT:
            self._connect()
        conn = self._conn
        start = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=all_headers)
            answer = conn.getresponse()
            payload = answer.read()
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            raise BenchmarkError('%s %s: connection failed: %r' % (
                method, path, exc))
        elapsed = time.perf_counter() - start
        self._last_used = time.monotonic()
        if answer.will_close:
            self._connect()
        return Response(method, path, answer.status, payload, elapsed,
                        answer.getheader('ETag'))


class WSGITransport:
    """The paste application called directly (no sockets, no server).

    ``around`` is an optional context-manager factory entered around each
    request, e.g. a SQL statement counter; its ``__enter__`` value is kept
    as ``last_probe``.
    """

    def __init__(self, app, token=TOKEN, around=None):
        import webob  # imported late: only the in-process runs need it
        self._webob = webob
        self.app = app
        self.token = token
        self.around = around
        self.last_probe = None

    def close(self):
        pass

    def request(self, method, path, body=None, headers=None):
        all_headers = dict(JSON_HEADERS)
        if self.token:
            all_headers['X-Auth-Token'] = self.token
        if headers:
            all_headers.update(headers)
        req = self._webob.Request.blank(path, method=method,
                                        headers=all_headers)
        data = _encode(body)
        if data is not None:
            req.body = data
        if self.around is not None:
            with self.around() as probe:
                start = time.perf_counter()
                answer = req.get_response(self.app)
                payload = answer.body
                elapsed = time.perf_counter() - start
            self.last_probe = probe
        else:
            start = time.perf_counter()
            answer = req.get_response(self.app)
            payload = answer.body
            elapsed = time.perf_counter() - start
        return Response(method, path, answer.status_int, payload, elapsed,
                        answer.headers.get('ETag'))
