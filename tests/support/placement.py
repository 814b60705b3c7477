"""A real OpenStack Placement for functional tests, and a proxy that breaks
it on purpose.

``PlacementFixture`` runs Placement 16 from the Nova venv (``.services/
nova``, see ``tests/support/nova.py``, whose helpers it uses) as an operator
would, alone: its own temporary directory, ``placement.conf`` (SQLite, ``[api]
auth_strategy = noauth2``: ``X-Auth-Token: admin`` is an administrator),
``placement-manage db sync``, gunicorn (gthread) on a free port of
127.0.0.1, the process group stopped on cleanup.  Its helpers read and
change resource providers and their aggregates over Placement's own API, as
someone else would "behind our back"; ``placement_conf_options()`` is the
``[placement]`` section (keystoneauth's ``admin_token`` plugin) a client of
ours uses to reach it.

``PlacementTestCase`` shares one Placement (``cls.placement``) between the
tests of a class; without the Nova venv it skips, or fails when
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nova``.

``FaultProxy`` is an HTTP/1.1 reverse proxy (stdlib only, one thread a
connection, keep-alive) in front of a URL, whose mode a test switches at any
time: ``pass_through()``, ``down()`` (connections refused: the listening
socket is closed and open connections are cut), ``slow(seconds)``,
``fail(status, count)``; ``before_forward(callback)`` runs a test's code
(e.g. a real concurrent write to Placement) before a request goes on.
``requests`` lists what it answered.
"""

import http
import http.client
import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import fixtures

from tests.support import nova
from tests.support import process
from tests.support import shared

#: The token Placement's noauth2 strategy takes for an administrator.
TOKEN = nova.PLACEMENT_TOKEN
#: The microversion of the fixture's requests (at least 1.19: provider
#: generations in GET and PUT of a provider's aggregates).
VERSION = nova.PLACEMENT_VERSION
START_TIMEOUT = 60
SYNC_TIMEOUT = 120


class PlacementError(Exception):
    """Placement could not be set up, or refused what a helper asked."""


def _quote(value):
    return urllib.parse.quote(value, safe='')


class PlacementFixture(fixtures.Fixture):
    """A real Placement on ``url`` (``http://127.0.0.1:<port>``), admin
    ``token``, its files in ``dir``.

    ``conf``: ``{section: {option: value}}`` over the fixture's
    ``placement.conf``.  ``threads``: gunicorn's gthread threads.
    ``startup_seconds``: how long the set-up took.
    """

    def __init__(self, conf=None, threads=4):
        super().__init__()
        self.conf_sections = conf or {}
        self.threads = threads
        self.token = TOKEN
        self.server = None
        self.startup_seconds = None

    def _setUp(self):
        problem = nova.venv_problem()
        if problem:
            raise PlacementError(problem)
        started = time.monotonic()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(self._stop)
        self.conf, self.database_url = nova.write_placement_config(
            self.dir, self.conf_sections)
        self._sync()
        self._start()
        self.startup_seconds = round(time.monotonic() - started, 2)

    def _sync(self):
        log_path = os.path.join(self.dir, 'manage.log')
        with open(log_path, 'ab') as log:
            try:
                status = subprocess.run(
                    nova.placement_sync_command(self.conf), stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.dir, env=nova.placement_env(self.dir),
                    timeout=SYNC_TIMEOUT, start_new_session=True).returncode
            except subprocess.TimeoutExpired:
                status = 'timed out'
        if status != 0:
            with open(log_path, errors='replace') as log:
                raise PlacementError('placement-manage db sync: %s\n%s' % (
                    status, log.read()[-6000:]))

    def _start(self):
        for attempt in range(3):
            self.port = process.free_port()
            self.server = nova.placement_server(self.dir, self.port,
                                                self.threads)
            logged = len(self.server.output())
            try:
                self.server.start(START_TIMEOUT)
            except process.ServerExited as exc:
                # Someone took the port between free_port() and the bind.
                if attempt < 2 and 'in use' in self.server.output()[logged:]:
                    continue
                raise PlacementError('Placement did not start: %s' % exc)
            except process.ServerStartError as exc:
                raise PlacementError('Placement did not answer: %s' % exc)
            break
        self.url = 'http://127.0.0.1:%d' % self.port

    def _stop(self):
        if self.server is not None:
            # SIGINT: gunicorn's quick shutdown (nothing to drain).
            self.server.stop(timeout=10, group=True)

    def output(self):
        """What Placement logged so far."""
        return self.server.output() if self.server else ''

    # Placement's API, as its administrator.

    def request(self, method, path, body=None, version=VERSION, url=None):
        """``(status, decoded JSON or bytes)``, whatever the status.
        ``url``: another way to the same Placement (a ``FaultProxy``'s)."""
        return nova.placement_http(url or self.url, method, path, body,
                                   version)

    def _call(self, expected, method, path, body=None):
        status, answer = self.request(method, path, body)
        if status != expected:
            raise PlacementError('%s %s: %s %s' % (method, path, status,
                                                   answer))
        return answer

    def create_provider(self, name, uuid=None):
        """Create the resource provider ``name``; its uuid."""
        body = {'name': name}
        if uuid is not None:
            body['uuid'] = uuid
        return self._call(200, 'POST', '/resource_providers', body)['uuid']

    def provider(self, name):
        """The resource provider named ``name`` (uuid, name, generation,
        ...), or None."""
        found = self._call(200, 'GET', '/resource_providers?name=' +
                           _quote(name))['resource_providers']
        return found[0] if found else None

    def _uuid_of(self, name):
        found = self.provider(name)
        if found is None:
            raise PlacementError('no resource provider is named %r' % name)
        return found['uuid']

    def delete_provider(self, name_or_uuid):
        """Delete the provider of that name, or else of that uuid."""
        found = self.provider(name_or_uuid)
        rp_uuid = found['uuid'] if found else name_or_uuid
        self._call(204, 'DELETE', '/resource_providers/' + _quote(rp_uuid))

    def _aggregates_path(self, name):
        return '/resource_providers/%s/aggregates' % self._uuid_of(name)

    def aggregates_of(self, name):
        """The aggregate uuids of the provider named ``name``."""
        return set(self._call(200, 'GET', self._aggregates_path(name))[
            'aggregates'])

    def set_aggregates_of(self, name, aggregate_uuids):
        """Make ``aggregate_uuids`` the aggregates of the provider named
        ``name`` (its current generation, then PUT), as another writer
        would; the provider's new generation."""
        path = self._aggregates_path(name)
        generation = self._call(200, 'GET', path)[
            'resource_provider_generation']
        return self._call(200, 'PUT', path, {
            'aggregates': sorted(aggregate_uuids),
            'resource_provider_generation': generation,
        })['resource_provider_generation']

    def providers_in(self, aggregate_uuid):
        """The names of the providers in aggregate ``aggregate_uuid``."""
        found = self._call(200, 'GET', '/resource_providers?member_of=' +
                           _quote(aggregate_uuid))['resource_providers']
        return {provider['name'] for provider in found}

    def placement_conf_options(self, endpoint=None, timeout=10):
        """The ``[placement]`` options of a client of ours (keystoneauth's
        ``admin_token`` plugin: a fixed endpoint and token, no Keystone).
        ``endpoint``: another way to this Placement (a ``FaultProxy``'s
        ``url``); ``timeout``: the session's, in seconds (None: none)."""
        options = {'auth_type': 'admin_token',
                   'endpoint': endpoint or self.url,
                   'token': self.token}
        if timeout is not None:
            options['timeout'] = timeout
        return options


class PlacementTestCase(shared.ClassFixturesTestCase):
    """One ``PlacementFixture`` (``cls.placement``) for the whole class,
    built from ``placement_kwargs()``; skipped (or failed, when required)
    without the Nova venv.  Tests must not depend on each other's data
    (unique provider names, new aggregate uuids)."""

    @classmethod
    def check_available(cls):
        nova.check_available()

    @classmethod
    def placement_kwargs(cls):
        """The ``PlacementFixture`` arguments of the class."""
        return {}

    @classmethod
    def prepare_class(cls):
        cls.placement = cls.use_class_fixture(
            PlacementFixture(**cls.placement_kwargs()))


# The proxy.

PASS, DOWN, SLOW, FAIL = 'pass', 'down', 'slow', 'fail'
_HOP_BY_HOP = frozenset([
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'proxy-connection', 'te', 'trailer', 'trailers', 'transfer-encoding',
    'upgrade'])
_NOT_FORWARDED = _HOP_BY_HOP | {'host', 'content-length'}
_NO_BODY_STATUSES = frozenset([204, 304])


def error_body(status, detail, code='placement.undefined_code'):
    """A JSON error document as Placement writes them."""
    return json.dumps({'errors': [{
        'status': status, 'title': http.HTTPStatus(status).phrase,
        'detail': detail, 'code': code,
        'request_id': 'req-%s' % uuid.uuid4()}]}).encode()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Clients that pile up while the proxy is not accepting are not dropped.
    request_queue_size = 64

    def __init__(self, proxy, port):
        self.proxy = proxy
        super().__init__(('127.0.0.1', port), _Handler)

    def server_bind(self):
        # HTTPServer's would look the host's name up (getfqdn).
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        self.proxy._failed(sys.exc_info()[1])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def setup(self):
        super().setup()
        self.server.proxy._opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.proxy._closed(self.connection)

    def log_message(self, format, *args):
        pass

    def read_body(self):
        """The request's body (None if it has none)."""
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0], 16)
                if not size:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b''.join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get('Content-Length')
        return None if length is None else self.rfile.read(int(length))

    def relay(self):
        self.server.proxy._relay(self, self.read_body())

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = \
        do_OPTIONS = relay


class FaultProxy(fixtures.Fixture):
    """A reverse proxy on ``url`` (a port of 127.0.0.1 of its own, the same
    all along) in front of ``target``, passing requests through until told
    otherwise.  The mode methods may be called from any thread at any time
    and take effect for the next request (``down()`` at once).

    ``requests``: ``(method, path with query, status)`` of each request the
    proxy answered, in order, recorded as soon as the status is known
    (before the response is sent, and before a ``slow`` delay).
    ``errors``: exceptions of hooks and of the proxy itself (expected
    empty).
    """

    def __init__(self, target, timeout=60):
        super().__init__()
        parsed = urllib.parse.urlsplit(target)
        self.target = target
        self._target_address = (parsed.hostname, parsed.port or 80)
        self._target_prefix = parsed.path.rstrip('/')
        self.timeout = timeout
        self.requests = []
        self.errors = []
        # _lock guards the state the handlers read; _switch serializes
        # opening and closing the listening socket.
        self._lock = threading.Lock()
        self._switch = threading.Lock()
        self._mode = PASS
        self._delay = 0
        self._fail_status = None
        self._fail_left = None
        self._hook = None
        self._server = None
        self._thread = None
        self._connections = set()
        self._stopping = threading.Event()

    def _setUp(self):
        self._stopping.clear()
        self.addCleanup(self._stop)
        self.port = 0
        self._listen()
        self.url = 'http://127.0.0.1:%d' % self.port

    # Modes.

    @property
    def mode(self):
        with self._lock:
            return self._mode

    def pass_through(self):
        """Forward every request as it is."""
        self._set(PASS)

    def down(self):
        """Refuse connections: stop listening (the port stays ours: a later
        mode listens on it again) and cut the open connections."""
        with self._switch:
            with self._lock:
                self._mode = DOWN
            self._close_listener()
            self._cut_connections()

    def slow(self, seconds):
        """Forward requests, and answer each ``seconds`` after Placement
        did (the work is done: a client that times out does not know).
        To hold a request before it is forwarded, sleep in a
        ``before_forward`` hook."""
        self._set(SLOW, delay=seconds)

    def fail(self, status=503, count=None):
        """Answer ``status`` with a Placement error document, without
        forwarding, to the next ``count`` requests (None: until the mode
        changes), then pass through."""
        if count is not None and count < 1:
            raise ValueError('count must be None or at least 1')
        self._set(FAIL, fail=(status, count))

    def before_forward(self, callback):
        """Call ``callback(method, path)`` (path with query) in the
        request's thread before forwarding each request (not the ones
        ``fail`` answers); None removes it.  If it raises, the request
        gets a 500 and the exception goes to ``errors``."""
        with self._lock:
            self._hook = callback

    def _set(self, mode, delay=0, fail=(None, None)):
        with self._switch:
            with self._lock:
                self._mode = mode
                self._delay = delay
                self._fail_status, self._fail_left = fail
            if self._server is None:
                self._listen()

    # The listening socket and the connections.

    def _listen(self):
        server = _Server(self, self.port)
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={'poll_interval': 0.05},
            name='FaultProxy:%d' % self.port, daemon=True)
        self._server = server
        self._thread.start()

    def _close_listener(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def _opened(self, connection):
        with self._lock:
            if self._mode != DOWN:
                self._connections.add(connection)
                return
        # Accepted just before the listening socket closed.
        self._cut(connection)

    def _closed(self, connection):
        with self._lock:
            self._connections.discard(connection)

    @staticmethod
    def _cut(connection):
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _cut_connections(self):
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            self._cut(connection)

    def _stop(self):
        self._stopping.set()
        with self._switch:
            self._close_listener()
            self._cut_connections()
        deadline = time.monotonic() + 5
        while self._connections and time.monotonic() < deadline:
            time.sleep(0.01)

    def _failed(self, exc):
        if not isinstance(exc, OSError):
            with self._lock:
                self.errors.append(exc)

    # Requests.

    def _relay(self, handler, body):
        method, path = handler.command, handler.path
        with self._lock:
            mode, delay, hook = self._mode, self._delay, self._hook
            status = self._fail_status
            if mode == FAIL and self._fail_left is not None:
                self._fail_left -= 1
                if self._fail_left <= 0:
                    self._mode = PASS
        if mode == DOWN:
            # A connection that slipped through down(): cut, no answer.
            handler.close_connection = True
            self._cut(handler.connection)
            return
        if mode == FAIL:
            self._answer(handler, status, [], error_body(
                status, 'FaultProxy fails this request.'))
            return
        if hook is not None:
            try:
                hook(method, path)
            except Exception as exc:
                with self._lock:
                    self.errors.append(exc)
                self._answer(handler, 500, [], error_body(
                    500, 'FaultProxy hook failed: %r' % exc))
                return
        try:
            status, headers, data = self._forward(handler, body)
        except (OSError, http.client.HTTPException) as exc:
            status, headers, data = 502, [], error_body(
                502, 'FaultProxy could not reach %s: %s' % (self.target,
                                                            exc))
        self._answer(handler, status, headers, data,
                     delay if mode == SLOW else 0)

    def _forward(self, handler, body):
        """``(status, headers, body)`` of the target's answer."""
        conn = http.client.HTTPConnection(*self._target_address,
                                          timeout=self.timeout)
        try:
            conn.putrequest(handler.command, self._target_prefix +
                            handler.path, skip_accept_encoding=True)
            for name, value in handler.headers.items():
                if name.lower() not in _NOT_FORWARDED:
                    conn.putheader(name, value)
            if body is not None:
                conn.putheader('Content-Length', str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
            headers = [(name, value) for name, value in response.getheaders()
                       if name.lower() not in _HOP_BY_HOP]
            return response.status, headers, data
        finally:
            conn.close()

    def _answer(self, handler, status, headers, data, delay=0):
        with self._lock:
            self.requests.append((handler.command, handler.path, status))
        if delay:
            self._stopping.wait(delay)
        if not headers:
            headers = [('Content-Type', 'application/json')]
        # The target's Content-Length stays only for HEAD (no body here).
        head = handler.command == 'HEAD'
        body = not head and status not in _NO_BODY_STATUSES
        try:
            handler.send_response_only(status)
            for name, value in headers:
                if head or name.lower() != 'content-length':
                    handler.send_header(name, value)
            if body:
                handler.send_header('Content-Length', str(len(data)))
            handler.end_headers()
            if body:
                handler.wfile.write(data)
        except OSError:
            handler.close_connection = True
