"""nova_aggregates.cmd.worker's responses on the wire: each one sent whole
by one ``sendall`` where gunicorn would send its headers, then each chunk,
and the same bytes as gunicorn's otherwise (the worker's request thread,
on a socket pair, no server process)."""

import socket
import threading
import time

from gunicorn import config as gunicorn_config
from gunicorn import glogging
from gunicorn.http import errors as gunicorn_errors
from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn import util as gunicorn_util
import fixtures
from gunicorn.workers import gthread
import testtools

from nova_aggregates.api import middleware
from nova_aggregates.cmd import worker as na_worker


class _RecordingSocket(socket.socket):
    """The server's end: what each ``sendall`` sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sends = []

    def sendall(self, data, *args):
        self.sends.append(bytes(data))
        return super().sendall(data, *args)


def _app(status, headers, chunks, fail=False):
    def application(environ, start_response):
        environ['wsgi.input'].read()
        start_response(status, list(headers))
        if fail:
            raise RuntimeError('the application failed')
        return iter(chunks) if not isinstance(chunks, list) else chunks
    return application


class _WorkerTestCase(testtools.TestCase):

    @staticmethod
    def new_worker():
        cfg = gunicorn_config.Config()
        # The failing application's traceback is expected, not shown.
        cfg.set('loglevel', 'critical')
        return na_worker.ThreadWorker(0, 0, [], None, 30, cfg,
                                      glogging.Logger(cfg))

    def serve(self, application, request=b'GET /x HTTP/1.1\r\nHost: h\r\n'
              b'\r\n', pause_between=None):
        """The sends of the worker answering ``request`` on a keep-alive
        connection, and all the client received.  ``pause_between``:
        ``request`` is a list, sent one after the other, each once the
        answer to the one before is in, after that many seconds."""
        worker = self.new_worker()
        worker.wsgi = worker._wrap(application)
        worker.header_timeout = worker.send_timeout = 10
        worker.alive = True
        worker.nr_conns = 1
        client, server = socket.socketpair()
        server = _RecordingSocket(fileno=server.detach())
        self.addCleanup(client.close)
        received = []

        def read():
            while True:
                data = client.recv(65536)
                if not data:
                    return
                received.append(data)
        if pause_between is None:
            reader = threading.Thread(target=read)
            reader.start()
            client.sendall(request)
            client.shutdown(socket.SHUT_WR)
        else:
            def send_in_turn():
                for number, one in enumerate(request):
                    if number:
                        while b''.join(received).count(
                                b'HTTP/1.1 ') < number:
                            received.append(client.recv(65536))
                        time.sleep(pause_between)
                    client.sendall(one)
                client.shutdown(socket.SHUT_WR)
                read()
            reader = threading.Thread(target=send_in_turn)
            reader.start()
        conn = gthread.TConn(worker.cfg, server,
                             ('127.0.0.1', 40000), ('127.0.0.1', 8774))
        worker.handle(conn)
        server.close()
        reader.join(10)
        return server.sends, b''.join(received)

    @staticmethod
    def split(answer):
        head, _, body = answer.partition(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        return lines[0], dict(line.split(': ', 1) for line in lines[1:]), body


class TestOneSendResponses(_WorkerTestCase):

    def test_headers_and_body_go_in_one_send(self):
        sends, answer = self.serve(_app('200 OK', [
            ('Content-Type', 'application/json'),
            ('Content-Length', '11')], [b'{"a": true}']))
        self.assertEqual(1, len(sends), sends)
        self.assertEqual(answer, sends[0])
        status, headers, body = self.split(answer)
        self.assertEqual('HTTP/1.1 200 OK', status)
        self.assertEqual('11', headers['Content-Length'])
        self.assertEqual('keep-alive', headers['Connection'])
        self.assertEqual(b'{"a": true}', body)

    def test_a_response_without_body_is_one_send_too(self):
        for status in ('304 Not Modified', '204 No Content'):
            sends, answer = self.serve(_app(status, [('ETag', '"1-v"')], []))
            self.assertEqual([answer], sends)
            line, headers, body = self.split(answer)
            self.assertEqual('HTTP/1.1 ' + status, line)
            self.assertEqual('"1-v"', headers['ETag'])
            self.assertEqual(b'', body)

    def test_later_chunks_follow_in_their_own_sends(self):
        sends, answer = self.serve(_app('200 OK', [
            ('Content-Length', '6')], [b'ab', b'cd', b'ef']))
        self.assertEqual(3, len(sends))
        self.assertTrue(sends[0].endswith(b'\r\n\r\nab'), sends[0])
        self.assertEqual([b'cd', b'ef'], sends[1:])
        self.assertEqual(b'abcdef', self.split(answer)[2])

    def test_a_chunked_response_is_framed_as_gunicorn_frames_it(self):
        sends, answer = self.serve(_app('200 OK', [], (
            chunk for chunk in (b'ab', b'cde'))))
        line, headers, body = self.split(answer)
        self.assertEqual('chunked', headers['Transfer-Encoding'])
        self.assertEqual(b'2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n', body)
        # The headers went first, alone, as gunicorn sends them.
        self.assertTrue(sends[0].endswith(b'\r\n\r\n'), sends)

    def test_an_application_failing_before_its_body_gets_a_500(self):
        # No headers went out before the failure: gunicorn's error answer
        # is the only response on the wire.
        sends, answer = self.serve(_app('200 OK', [
            ('Content-Length', '2')], [b'{}'], fail=True))
        self.assertEqual(1, answer.count(b'HTTP/1.1 '), answer)
        self.assertTrue(answer.startswith(b'HTTP/1.1 500 '), answer)

    def test_a_body_is_read_before_the_answer(self):
        sends, answer = self.serve(
            _app('201 Created', [('Content-Length', '2')], [b'{}']),
            b'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc')
        self.assertEqual([answer], sends)
        self.assertEqual(('HTTP/1.1 201 Created', b'{}'),
                         self.split(answer)[::2])


class TestRepeatedWorkSkipped(_WorkerTestCase):
    """What repeats from response to response is done once: the checks of
    a header pair, the Date line of a second; the answers stay gunicorn's."""

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.MockPatchObject(
            na_worker, '_checked_headers', {}))
        self.useFixture(fixtures.MockPatchObject(
            na_worker, '_date_line', (None, '')))

    def response(self, status, headers):
        req = type('Req', (), {'version': (1, 1), 'method': 'GET',
                               'headers': [], 'path': '/',
                               'should_close': lambda self: False})()
        response = gunicorn_wsgi.Response(req, None, self.new_worker().cfg)
        response.__class__ = na_worker._OneSendResponse
        response.start_response(status, headers)
        return response

    def test_headers_seen_before_are_kept_as_gunicorn_keeps_them(self):
        headers = [('ETag', ' "1-v" '), ('Content-Length', '2'),
                   ('Connection', 'close'), ('Vary', 'X-A')]
        for _ in range(3):
            response = self.response('200 OK', headers)
            # Stripped, hop-by-hop dropped, the length known every time.
            self.assertEqual([('ETag', '"1-v"'), ('Content-Length', '2'),
                              ('Vary', 'X-A')], response.headers)
            self.assertEqual(2, response.response_length)
        self.assertEqual({('ETag', ' "1-v" '), ('Vary', 'X-A')},
                         set(na_worker._checked_headers))

    def test_a_bad_header_is_refused_every_time(self):
        self.response('200 OK', [('X-A', 'fine')])
        for _ in range(2):
            self.assertRaises(gunicorn_errors.InvalidResponseHeader,
                              self.response, '200 OK',
                              [('X-A', 'split\r\nX-B: injected')])
            self.assertRaises(gunicorn_errors.InvalidResponseHeaderName,
                              self.response, '200 OK', [('X A', 'v')])
            self.assertRaises(TypeError, self.response, '200 OK',
                              [('X-A', 1)])
            self.assertRaises(TypeError, self.response, '200 OK',
                              [['X-A', 'fine']])

    def test_the_kept_pairs_are_bounded(self):
        self.useFixture(fixtures.MockPatchObject(
            na_worker, 'CHECKED_HEADERS_KEPT', 4))
        for n in range(10):
            self.response('200 OK', [('X-Request-Id', 'req-%d' % n)])
            self.assertLessEqual(len(na_worker._checked_headers), 4)

    def test_the_date_line_is_gunicorns_for_the_current_second(self):
        now = [1_800_000_000.25]
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.cmd.worker.time.time', lambda: now[0]))
        response = self.response('304 Not Modified', [])
        lines = response.default_headers()
        self.assertEqual('Date: %s\r\n' % gunicorn_util.http_date(now[0]),
                         lines[2])
        self.assertEqual(['HTTP/1.1 304 Not Modified\r\n',
                          'Server: %s\r\n' % response.version],
                         lines[:2])
        self.assertEqual('Connection: keep-alive\r\n', lines[3])
        now[0] += 0.5
        self.assertEqual(lines, response.default_headers())
        now[0] += 1
        self.assertEqual('Date: %s\r\n' % gunicorn_util.http_date(now[0]),
                         response.default_headers()[2])
        self.assertNotEqual(lines[2], response.default_headers()[2])


class TestWorkDeferredUntilIdle(_WorkerTestCase):
    """middleware.ENV_DEFER_UNTIL_IDLE: what a request defers (the request
    log's line) runs once no next request is there to serve, and never
    later than the connection's end."""

    def application(self, events):
        def application(environ, start_response):
            path = environ['PATH_INFO']
            events.append(('served', path))
            environ[middleware.ENV_DEFER_UNTIL_IDLE](
                lambda: events.append(('deferred', path)))
            start_response('200 OK', [('Content-Length', '2')])
            return [b'{}']
        return application

    @staticmethod
    def request(path):
        return b'GET %s HTTP/1.1\r\nHost: h\r\n\r\n' % path

    def test_requests_sent_at_once_are_served_first(self):
        events = []
        self.serve(self.application(events),
                   self.request(b'/a') + self.request(b'/b'))
        self.assertEqual([('served', '/a'), ('served', '/b'),
                          ('deferred', '/a'), ('deferred', '/b')], events)

    def test_a_client_that_pauses_finds_the_work_done(self):
        # A pause longer than IDLE_BEFORE_DEFERRED, shorter than the wait
        # for a next request (made long, for a loaded machine).
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.cmd.worker.NEXT_REQUEST_WAIT', 5.0))
        events = []
        self.serve(self.application(events),
                   [self.request(b'/a'), self.request(b'/b')],
                   pause_between=0.1)
        self.assertEqual([('served', '/a'), ('deferred', '/a'),
                          ('served', '/b'), ('deferred', '/b')], events)

    def test_what_piles_up_runs_at_its_limit(self):
        events = []
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.cmd.worker.DEFERRED_MAX', 2))
        self.serve(self.application(events), b''.join(
            self.request(b'/%d' % n) for n in range(5)))
        self.assertEqual(
            [('served', '/0'), ('served', '/1'), ('deferred', '/0'),
             ('deferred', '/1'), ('served', '/2'), ('served', '/3'),
             ('deferred', '/2'), ('deferred', '/3'), ('served', '/4'),
             ('deferred', '/4')], events)


class TestBusyPoll(_WorkerTestCase):
    """[api] busy_poll: a request thread alone in its worker polls for the
    client's next request without sleeping, for a while, then sleeps on
    it as before."""

    def worker(self, busy_poll):
        worker = self.new_worker()
        worker.busy_poll = busy_poll
        worker._serving_threads = 1
        return worker

    def later(self, function, *args):
        """``function(*args)`` from another thread in 0.05 s."""
        timer = threading.Timer(0.05, function, args)
        timer.start()
        self.addCleanup(timer.cancel)

    def pair(self):
        client, server = socket.socketpair()
        self.addCleanup(client.close)
        self.addCleanup(server.close)
        return client, server

    def test_a_request_that_comes_during_the_poll_is_seen(self):
        worker = self.worker(5.0)
        client, server = self.pair()
        self.later(client.sendall, b'GET')
        started = time.monotonic()
        self.assertTrue(worker._polled_readable(server, 5.0))
        self.assertLess(time.monotonic() - started, 4.0)

    def rounds(self):
        """Counts the busy poll's rounds (each gives way once)."""
        counted = []
        give_way = na_worker._give_way

        def counting():
            counted.append(1)
            give_way()
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.cmd.worker._give_way', counting))
        return counted

    def test_the_poll_does_not_sleep_and_ends_on_time(self):
        worker = self.worker(0.2)
        client, server = self.pair()
        rounds = self.rounds()
        started = time.monotonic()
        self.assertFalse(worker._polled_readable(server, 0.2))
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 0.2)
        self.assertLess(elapsed, 2.0)
        # Polled again and again, not one wait (even on a machine busy
        # enough that each round gives the CPU away for a while).
        self.assertGreater(len(rounds), 5)

    def test_the_poll_ends_once_another_thread_serves(self):
        worker = self.worker(5.0)
        client, server = self.pair()

        self.later(setattr, worker, '_serving_threads', 2)
        started = time.monotonic()
        self.assertFalse(worker._polled_readable(server, 5.0))
        self.assertLess(time.monotonic() - started, 4.0)

    def test_a_lone_connection_polls_between_its_requests(self):
        # One thread served both requests, polling between them; with
        # busy_poll 0 (the same client) it slept instead.
        original = na_worker.ThreadWorker.handle
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.cmd.worker.NEXT_REQUEST_WAIT', 5.0))
        rounds = self.rounds()

        def rounds_while_serving(busy_poll):
            def handle(worker, conn):
                worker.busy_poll = busy_poll
                return original(worker, conn)
            self.useFixture(fixtures.MockPatch(
                'nova_aggregates.cmd.worker.ThreadWorker.handle', handle))
            del rounds[:]
            request = b'GET /x HTTP/1.1\r\nHost: h\r\n\r\n'
            sends, answer = self.serve(
                _app('200 OK', [('Content-Length', '2')], [b'{}']),
                [request, request], pause_between=0.3)
            self.assertEqual(2, answer.count(b'HTTP/1.1 200 OK'), answer)
            return len(rounds)
        self.assertGreater(rounds_while_serving(1.0), 5)
        self.assertEqual(0, rounds_while_serving(0.0))


class TestNextRequestOnTheSameThread(_WorkerTestCase):
    """After a kept-alive response the request thread waits for the
    client's next request itself, up to NEXT_REQUEST_WAIT, while every
    connection has a thread, and gives the connection back as soon as
    one has none (or the worker stops)."""

    def setUp(self):
        super().setUp()
        self.worker = self.new_worker()
        self.worker.alive = True
        self.worker.nr_conns = 1
        self.client, server = socket.socketpair()
        self.addCleanup(self.client.close)
        self.addCleanup(server.close)
        self.conn = type('Conn', (), {'sock': server, 'parser': None})()

    def later(self, function, *args, delay=0.1):
        timer = threading.Timer(delay, function, args)
        timer.start()
        self.addCleanup(timer.cancel)

    def waited(self, wait=None):
        """``_next_request_soon``'s answer and how long it took (with
        NEXT_REQUEST_WAIT ``wait``, or as configured)."""
        if wait is not None:
            self.useFixture(fixtures.MockPatch(
                'nova_aggregates.cmd.worker.NEXT_REQUEST_WAIT', wait))
        started = time.monotonic()
        answer = self.worker._next_request_soon(self.conn)
        return answer, time.monotonic() - started

    def test_a_request_after_a_pause_is_served_by_this_thread(self):
        # Well past the first slice (2 ms), as configured: the connection
        # went back to the main loop after 2 ms before, and the next
        # request paid two wake-ups (a quarter of a small request).
        self.later(self.client.sendall, b'GET', delay=0.03)
        answer, elapsed = self.waited()
        self.assertTrue(answer)
        self.assertGreaterEqual(elapsed, 0.025)

    def test_the_wait_ends_on_time(self):
        answer, elapsed = self.waited(0.2)
        self.assertFalse(answer)
        self.assertGreaterEqual(elapsed, 0.19)
        self.assertLess(elapsed, 2.0)

    def test_a_connection_without_a_thread_ends_the_wait(self):
        # One thread (gunicorn's default): a second connection accepted
        # meanwhile needs this one.
        self.assertEqual(1, self.worker.cfg.threads)
        self.later(setattr, self.worker, 'nr_conns', 2)
        answer, elapsed = self.waited(5.0)
        self.assertFalse(answer)
        self.assertLess(elapsed, 4.0)

    def test_stopping_ends_the_wait(self):
        self.later(setattr, self.worker, 'alive', False)
        answer, elapsed = self.waited(5.0)
        self.assertFalse(answer)
        self.assertLess(elapsed, 4.0)

    def test_more_connections_than_threads_do_not_wait_at_all(self):
        self.worker.nr_conns = 2
        answer, elapsed = self.waited(5.0)
        self.assertFalse(answer)
        self.assertLess(elapsed, 1.0)
