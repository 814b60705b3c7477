"""The gunicorn worker of nova-aggregates-api: gthread, hardened against slow
clients, and quick to stop.

``ThreadWorker`` is gunicorn's threaded worker with these changes:

* **Read deadlines.**  A request thread reading the request line and
  headers gets ``[api] client_socket_timeout`` for all of it, and
  ``BodySizeLimit`` (nova_aggregates.api.middleware) gives the body ``[api]
  client_body_timeout``.  One watchdog thread per worker process
  (``ReadDeadlines``) cuts a read still blocked at its deadline (the read
  side of the socket is shut down, so the blocked ``recv`` returns end of
  file): a client trickling its headers or body a byte at a time cannot
  hold a thread for longer.  No thread or timer per request; arming and
  disarming a deadline is a dictionary update under a lock.
* **Send timeout.**  Each send of a response waits at most ``[api]
  client_socket_timeout`` for a client that does not read
  (``SO_SNDTIMEO``, set once per connection).
* **Closing.**  A connection that is not kept alive is closed from its
  request thread, lingering: writing is shut down (the client sees the
  end of the response), what the client still sends is read and dropped
  (within ``LINGER_SECONDS`` and ``LINGER_BYTES``, until it closes or
  pauses for ``LINGER_IDLE``), then it is closed.  A
  client that reads only after sending (a refused upload) thus gets the
  response instead of a reset; and gunicorn's own graceful close, which
  runs on the worker's main loop, finds nothing left to wait for.
  ``BodySizeLimit`` asks for such a close (``ENV_CLOSE_CONNECTION``) after
  a refused body; this worker turns that into ``Connection: close``.
* **One send per response.**  gunicorn sends a response's headers, then
  each body chunk, one ``sendall`` each; ours (``_OneSendResponse``) sends
  the headers with the first chunk (a small JSON answer is one segment on
  the wire, one system call here and one read for the client).
* **Work deferred until idle.**  A request may leave work for when its
  thread is idle (``middleware.ENV_DEFER_UNTIL_IDLE``: the request log's
  line).  After a kept-alive response the thread first waits up to
  ``IDLE_BEFORE_DEFERRED`` for the client's next request and serves it at
  once if it comes (it keeps waiting up to ``NEXT_REQUEST_WAIT``, see
  ``ThreadWorker._next_request_soon``); the deferred work runs when none
  came, before the thread waits longer, when the connection ends, and at
  the latest once ``DEFERRED_MAX`` items or ``DEFERRED_MAX_AGE`` seconds
  have piled up.
* **Busy poll.**  A request thread that is the only one of its worker
  serving a connection polls that connection for the client's next
  request without sleeping for ``[api] busy_poll`` microseconds, giving
  the processor to anything else runnable on each round, before it waits
  as above.  On the virtual machines measured, a request that follows a
  1 ms sleep of its thread takes 1.9-2.8 times as long as one that
  follows at once, and one that follows 1 ms of polling 1.2 times
  (doc/performance.md); a client sending requests one after the other
  no longer pays that.  While other threads serve connections nobody
  polls.
* **Stopping.**  SIGTERM, SIGINT and SIGQUIT all stop the worker the same
  way: no new connections, idle kept-alive connections closed within
  ``STOP_KEEPALIVE_LINGER`` (a request already arriving on one is still
  answered), reads that wait for a client cut within ``STOP_READ_GRACE``,
  requests being processed finish.  Stock gunicorn exits from the signal
  handler on SIGINT and then waits, forever, for any request thread
  blocked on a silent client, until the master SIGKILLs it after
  ``graceful_timeout`` ("Perhaps out of memory?").  If requests are still
  running one second before ``graceful_timeout``, this worker says so in
  the log and exits by itself.

The application served, ``nova_aggregates.wsgi:application``, does not
need this worker: under any other WSGI server ``BodySizeLimit`` still reads,
discards and answers as documented, but checks its deadline between reads
only (a stalled read lasts as long as that server lets it), and that
server decides about closing connections and slow headers.

Written against gunicorn 27 (tested with 27.0.1; nova_aggregates.cmd.api
needs a recent gunicorn anyway).  It relies on these gthread internals, to
check on an upgrade: ``handle(conn)`` returning ``False`` for a connection
to close, ``handle_request(req, conn)``, ``_cap_keepalive(deadline)`` and
``pending_conns`` on stopping, and the ``Response`` (``force_close()``,
``send_headers()``, ``_emit_body()``, ``close()``, ``chunked``,
``headers_sent``) behind the ``start_response`` the application gets.
Where one is missing, that part falls back to gunicorn's own behaviour.
"""

import logging
import math
import os
import select
import socket
import ssl
import struct
import threading
import time

from gunicorn.http import wsgi as gunicorn_wsgi
from gunicorn import util as gunicorn_util
from gunicorn.workers import gthread

from nova_aggregates.api import middleware
from nova_aggregates import conf as na_conf

#: Once the worker stops, idle kept-alive connections stay open this long
#: (seconds) for a request that a client may already be sending.
STOP_KEEPALIVE_LINGER = 0.5
#: Once the worker stops, reads still waiting for a client are cut after this
#: long (seconds) at the latest: a request being sent at a normal pace gets
#: through, a stalled one does not hold the exit.
STOP_READ_GRACE = 1.0
#: Lingering close: what the client still sends is read and dropped, for
#: at most LINGER_SECONDS and LINGER_BYTES in all, and until it has sent
#: nothing for LINGER_IDLE seconds (or closed), before the socket is closed.
LINGER_SECONDS = 2.0
LINGER_IDLE = 0.5
LINGER_BYTES = 512 * 1024
#: After a kept-alive response, the request thread waits this long (seconds)
#: for the client's next request before it hands the connection back to the
#: main loop (see ThreadWorker._next_request_soon); past the first
#: NEXT_REQUEST_SLICE, a slice at a time, each only while there is still a
#: thread for every connection.
NEXT_REQUEST_WAIT = 0.1
NEXT_REQUEST_SLICE = 0.002
#: With deferred work pending (the request log's lines), how long (seconds)
#: the next request may take to come before that work runs first; and how
#: much of it, or how old, may pile up before it runs anyway.
IDLE_BEFORE_DEFERRED = 0.0005
DEFERRED_MAX = 64
DEFERRED_MAX_AGE = 0.1

#: Each round of a busy poll: anything else runnable on this CPU goes first.
_give_way = os.sched_yield

#: Per request thread: the deferred work of the connection it serves.
_serving = threading.local()


def _cut(sock):
    """Make a blocked and any later ``recv`` on ``sock`` return end of file;
    sending still works (for a 408, then the close)."""
    try:
        # The plain socket's shutdown: on a TLS socket, SSLSocket.shutdown
        # would also drop the TLS state needed to send the answer.
        socket.socket.shutdown(sock, socket.SHUT_RD)
    except OSError:
        pass


class ReadDeadlines:
    """Deadlines for reads from client sockets, and the one watchdog thread
    (per process) that cuts a read still blocked at its deadline.

    ``arm(sock, deadline)`` / ``disarm(sock)`` are called by the request
    thread that owns the connection; ``deadline`` is a ``time.monotonic()``
    value.  A socket is cut only while armed: after ``disarm`` returns, the
    watchdog leaves it alone.  ``was_cut(sock)`` tells a short read that was
    cut from one where the client stopped.  ``stop()`` may be called from a
    signal handler.
    """

    def __init__(self):
        self._lock = threading.Lock()
        # fileno -> (deadline, socket)
        self._armed = {}
        # Filenos cut since they were last armed.
        self._cut = set()
        # When the watchdog wakes up next (inf: only when woken).
        self._next = math.inf
        # Once stopping: no deadline later than this.
        self._cap = None
        # (grace, exit_after, on_overdue) from stop(), for the watchdog.
        self._stop_request = None
        self._exit_at = None
        self._on_overdue = None
        self._wake_r = self._wake_w = None
        self._thread = None

    def start(self):
        """In the process that serves (after the fork)."""
        if self._thread is None:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
            self._thread = threading.Thread(
                target=self._watch, name='read-deadlines', daemon=True)
            self._thread.start()

    def _wake(self):
        try:
            os.write(self._wake_w, b'.')
        except (OSError, TypeError):
            # Full (it is awake anyway), or not started.
            pass

    def arm(self, sock, deadline):
        fileno = sock.fileno()
        with self._lock:
            if self._cap is not None and deadline > self._cap:
                deadline = self._cap
            self._armed[fileno] = (deadline, sock)
            self._cut.discard(fileno)
            if deadline < self._next:
                # Rare: the first deadline after an idle spell.
                self._next = deadline
                self._wake()

    def disarm(self, sock):
        fileno = sock.fileno()
        # Only the thread serving a connection arms its socket: no entry
        # can appear behind this check.  An entry left behind by a socket
        # closed while armed is dropped by the watchdog at its deadline (it
        # holds the socket object, so it never cuts another connection).
        if fileno in self._armed:
            with self._lock:
                entry = self._armed.get(fileno)
                if entry is not None and entry[1] is sock:
                    del self._armed[fileno]

    def was_cut(self, sock):
        """Whether reads on ``sock`` were cut since it was last armed (at
        its deadline, or earlier because the worker stops)."""
        return sock.fileno() in self._cut

    def stop(self, grace, exit_after=None, on_overdue=None):
        """No read waits more than ``grace`` seconds from now; after
        ``exit_after`` seconds, the watchdog calls ``on_overdue``.

        For signal handlers: takes no lock (a second signal may interrupt
        the first handler), the watchdog does the rest."""
        now = time.monotonic()
        if self._stop_request is None:
            self._stop_request = (
                now + grace, None if exit_after is None else now + exit_after,
                on_overdue)
            self._wake()

    def _apply_stop(self):
        cap, exit_at, on_overdue = self._stop_request
        if self._cap is None:
            self._cap = cap
            for fileno, (deadline, sock) in list(self._armed.items()):
                if deadline > cap:
                    self._armed[fileno] = (cap, sock)
            self._exit_at = exit_at
            self._on_overdue = on_overdue

    def _watch(self):
        while True:
            overdue = None
            with self._lock:
                if self._stop_request is not None:
                    self._apply_stop()
                now = time.monotonic()
                soonest = math.inf
                for fileno, (deadline, sock) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[fileno]
                        self._cut.add(fileno)
                        _cut(sock)
                    elif deadline < soonest:
                        soonest = deadline
                if self._exit_at is not None:
                    if self._exit_at <= now:
                        overdue, self._on_overdue = self._on_overdue, None
                        self._exit_at = None
                    else:
                        soonest = min(soonest, self._exit_at)
                self._next = soonest
            if overdue is not None:
                overdue()
            # A little past the deadline, so that it has passed on waking.
            select.select([self._wake_r], [], [],
                          None if soonest == math.inf
                          else soonest - now + 0.005)
            try:
                while os.read(self._wake_r, 256):
                    pass
            except BlockingIOError:
                pass


#: ``(second, "Date: ...\r\n")``: the Date line of responses sent in that
#: second (formatting it took a tenth of a 304's time in the server).
_date_line = (None, '')
#: Response headers gunicorn checked and kept as they are (not
#: Content-Length, not hop-by-hop): ``(name, value)`` -> the pair it kept.
#: Most of a response's headers repeat from one response to the next.
_checked_headers = {}
CHECKED_HEADERS_KEPT = 512


def _current_date_line():
    global _date_line
    now = int(time.time())
    second, line = _date_line
    if second != now:
        line = 'Date: %s\r\n' % gunicorn_util.http_date(now)
        _date_line = (now, line)
    return line


class _OneSendResponse(gunicorn_wsgi.Response):
    """gunicorn's HTTP/1.x response, whose headers go out with the first
    body chunk (or at ``close()`` if no chunk comes).  Until they are on the
    wire ``headers_sent`` stays False, so that an application failing before
    its first chunk still gets gunicorn's error response instead.  Chunked
    responses are left as they are (the headers precede the framing).

    Also skips work that repeats from response to response: a header pair
    gunicorn already checked is not checked again, and the Date line is
    formatted once a second."""

    _pending_headers = None

    def process_headers(self, headers):
        checked = _checked_headers
        for header in headers:
            try:
                kept = checked.get(header)
            except TypeError:  # not a tuple: gunicorn says what is wrong
                kept = None
            if kept is not None:
                self.headers.append(kept)
                continue
            before = len(self.headers)
            super().process_headers([header])
            if (len(self.headers) == before + 1 and
                    header[0].lower() != 'content-length' and
                    not gunicorn_util.is_hoppish(header[0])):
                if len(checked) >= CHECKED_HEADERS_KEPT:
                    # Cheaper than tracking use (unique values such as
                    # request ids fill it); the next responses refill it.
                    checked.clear()
                checked[header] = self.headers[-1]

    def default_headers(self):
        # gunicorn's lines, with the Date line of this second.
        if self.upgrade:
            connection = 'upgrade'
        elif self.should_close():
            connection = 'close'
        else:
            connection = 'keep-alive'
        lines = ['HTTP/%s.%s %s\r\n' % (self.req.version[0],
                                        self.req.version[1], self.status),
                 'Server: %s\r\n' % self.version,
                 _current_date_line(),
                 'Connection: %s\r\n' % connection]
        if self.chunked:
            lines.append('Transfer-Encoding: chunked\r\n')
        return lines

    def send_headers(self):
        if self.headers_sent or self._pending_headers is not None:
            return
        if self.chunked:
            super().send_headers()
            return
        lines = self.default_headers()
        lines.extend(['%s: %s\r\n' % header for header in self.headers])
        self._pending_headers = ('%s\r\n' % ''.join(lines)).encode(
            'latin-1')

    def _emit_body(self, data):
        pending = self._pending_headers
        if pending is not None:
            self._pending_headers = None
            data = pending + data
        gunicorn_util.write(self.sock, data, self.chunked)
        self.headers_sent = True

    def close(self):
        if not self.headers_sent:
            # No chunk came (an empty body): the headers alone.
            self.send_headers()
        pending = self._pending_headers
        if pending is not None:
            self._pending_headers = None
            gunicorn_util.write(self.sock, pending)
            self.headers_sent = True
        super().close()


class _Deferred:
    """The work a connection's requests left for when its thread is idle
    (``middleware.ENV_DEFER_UNTIL_IDLE``)."""

    __slots__ = ('items', 'since')

    def __init__(self):
        self.items = []
        self.since = None

    def __bool__(self):
        return bool(self.items)

    def add(self, function):
        if not self.items:
            self.since = time.monotonic()
        self.items.append(function)

    def due(self):
        """Whether enough piled up, or waited long enough, to run now."""
        return len(self.items) >= DEFERRED_MAX or \
            time.monotonic() - self.since >= DEFERRED_MAX_AGE

    def run(self):
        items, self.items = self.items, []
        for function in items:
            try:
                function()
            except Exception:  # noqa: B902 - a log line must not stop serving
                logging.getLogger(__name__).exception(
                    'Deferred work %r failed', function)


def _timeval(seconds):
    whole = int(seconds)
    return struct.pack('ll', whole, int((seconds - whole) * 1e6))


class ThreadWorker(gthread.ThreadWorker):
    """gunicorn's gthread worker with read deadlines, a send timeout, a
    lingering close off the main loop, and a quick stop; see the module."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadlines = ReadDeadlines()
        self.header_timeout = None
        self.send_timeout = None
        self.busy_poll = 0.0
        #: Threads serving a connection (in ``handle``), for busy_poll.
        self._serving_threads = 0
        self._serving_lock = threading.Lock()

    def init_process(self):
        self.deadlines.start()
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        # Read here: under a plain ``gunicorn -k`` the configuration is
        # parsed by loading the application.
        timeout = na_conf.CONF.api.client_socket_timeout
        self.header_timeout = self.send_timeout = timeout or None
        self.busy_poll = na_conf.CONF.api.busy_poll / 1e6
        self.wsgi = self._wrap(self.wsgi)

    def _wrap(self, application):
        deadlines = self.deadlines
        worker = self

        def serve(environ, start_response):
            environ[middleware.ENV_READ_DEADLINES] = deadlines
            deferred = getattr(_serving, 'deferred', None)
            if deferred is not None:
                environ[middleware.ENV_DEFER_UNTIL_IDLE] = deferred.add
            # gunicorn hands the application its Response's own
            # start_response.
            response = getattr(start_response, '__self__', None)
            if type(response) is gunicorn_wsgi.Response:
                response.__class__ = _OneSendResponse
            result = application(environ, start_response)
            # Asked for, or stopping since the request came in.
            if middleware.ENV_CLOSE_CONNECTION in environ or \
                    not worker.alive:
                # The headers are sent on the first write, after this
                # returns, so they will say "Connection: close".
                force_close = getattr(response, 'force_close', None)
                if force_close is not None:
                    force_close()
            return result
        return serve

    # -- a connection, in a request thread ---------------------------------

    def handle(self, conn):
        deferred = _serving.deferred = _Deferred()
        with self._serving_lock:
            self._serving_threads += 1
        try:
            while True:
                result = self._handle_one(conn)
                if result is False:
                    deferred.run()
                    self._close_lingering(conn.sock)
                    return result
                if result is not True or not self._next_request_soon(
                        conn, deferred):
                    return result
        finally:
            with self._serving_lock:
                self._serving_threads -= 1
            _serving.deferred = None
            deferred.run()

    def _handle_one(self, conn):
        sock = conn.sock
        if self.send_timeout and not getattr(conn, 'na_prepared', False):
            conn.na_prepared = True
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                                _timeval(self.send_timeout))
            except (OSError, struct.error):
                pass
        # Armed even without a timeout: stopping cuts it then.  (The socket
        # as armed: init() may wrap it for TLS.)
        conn.na_armed = sock
        self.deadlines.arm(sock, time.monotonic() + self.header_timeout
                           if self.header_timeout else math.inf)
        try:
            return super().handle(conn)
        finally:
            self.deadlines.disarm(sock)

    def _next_request_soon(self, conn, deferred=None):
        """After a kept-alive response: whether the client's next request
        is already there or comes within NEXT_REQUEST_WAIT, while there is
        a thread for every connection (waiting starves no one).  Then this
        thread serves it: no hand-over to the main loop and back to a
        thread (a wake-up of the main loop, a poll, a queue), which costs
        a client that sends its requests one after the other about a
        third of the time of a small request, and one that pauses between
        them (a script, a dashboard) a quarter."""
        if not self._may_hold():
            return False
        if deferred and deferred.due():
            deferred.run()
        if conn.parser is not None and conn.parser.unreader.buf.getvalue():
            # Read ahead with the last body: the next request has begun.
            return True
        sock = conn.sock
        if isinstance(sock, ssl.SSLSocket):
            return sock.pending() > 0
        wait = NEXT_REQUEST_SLICE
        if self.busy_poll and self._serving_threads == 1:
            if self._polled_readable(sock, self.busy_poll):
                return True
            wait -= self.busy_poll
        if deferred:
            # A client that sends its next request at once gets it served
            # before the deferred work runs.
            idle = NEXT_REQUEST_SLICE - wait
            if idle < IDLE_BEFORE_DEFERRED:
                if self._readable(sock, IDLE_BEFORE_DEFERRED - idle):
                    return True
                wait -= IDLE_BEFORE_DEFERRED - idle
            deferred.run()
        if self._readable(sock, max(wait, 0.0)):
            return True
        # A slice at a time: a connection accepted meanwhile, once there
        # are more than threads, waits one slice at most for this thread.
        held = NEXT_REQUEST_SLICE
        while held < NEXT_REQUEST_WAIT:
            if not self._may_hold():
                return False
            slice_ = min(NEXT_REQUEST_SLICE, NEXT_REQUEST_WAIT - held)
            if self._readable(sock, slice_):
                return True
            held += slice_
        return False

    def _may_hold(self):
        """Whether a request thread may keep waiting on its connection:
        the worker runs, and each connection has a thread (a thread held
        by an idle connection serves no one else)."""
        return self.alive and self.nr_conns <= self.cfg.threads

    def _polled_readable(self, sock, duration):
        """Whether ``sock`` becomes readable within ``duration`` seconds,
        polled without sleeping ([api] busy_poll), for as long as this
        thread stays the only one of the worker serving a connection.
        Each round gives the processor to any other runnable thread or
        process first (sched_yield), and the GIL with each poll."""
        try:
            poller = select.poll()
            poller.register(sock, select.POLLIN)
        except (OSError, ValueError):
            return False
        end = time.monotonic() + duration
        try:
            while True:
                if poller.poll(0):
                    return True
                if time.monotonic() >= end or self._serving_threads != 1:
                    return False
                _give_way()
        except (OSError, ValueError):
            return False

    @staticmethod
    def _readable(sock, timeout):
        try:
            ready, _, _ = select.select([sock], [], [], timeout)
        except (OSError, ValueError):
            return False
        return bool(ready)

    def handle_request(self, req, conn):
        # The request line and headers are in; the body has a deadline of
        # its own (BodySizeLimit), the application's work none.
        self.deadlines.disarm(getattr(conn, 'na_armed', conn.sock))
        return super().handle_request(req, conn)

    @staticmethod
    def _close_lingering(sock):
        """Shut writing down, read and drop what the client still sends for
        a moment, then leave the socket to gunicorn to close: cut, so that
        its close does not wait again, on the main loop."""
        if isinstance(sock, ssl.SSLSocket) or sock.fileno() < 0:
            return
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            # Not connected any more.
            return
        deadline = time.monotonic() + LINGER_SECONDS
        left = LINGER_BYTES
        try:
            while left > 0:
                remaining = min(deadline - time.monotonic(), LINGER_IDLE)
                if remaining <= 0:
                    break
                sock.settimeout(remaining)
                data = sock.recv(min(left, 65536))
                if not data:
                    break
                left -= len(data)
        except OSError:
            pass
        finally:
            _cut(sock)

    # -- stopping ----------------------------------------------------------

    def handle_exit(self, sig, frame):
        """SIGTERM (and SIGINT, SIGQUIT)."""
        if self.alive:
            graceful = self.cfg.graceful_timeout
            self.deadlines.stop(STOP_READ_GRACE,
                                exit_after=max(0.5, graceful - 1.0),
                                on_overdue=self._overdue)
        super().handle_exit(sig, frame)

    def handle_quit(self, sig, frame):
        """SIGINT (Ctrl-C), SIGQUIT: as SIGTERM.  Not gunicorn's exit from
        the signal handler, after which the process waits for every
        request thread, those blocked on a silent client too."""
        self.handle_exit(sig, frame)

    def _overdue(self):
        """From the watchdog, when requests still run just before the master
        would SIGKILL this worker."""
        self.log.warning(
            'Worker (pid: %s) stopping: requests still running close to '
            'graceful_timeout (%ss) after the stop signal; exiting without '
            'them.', self.pid, self.cfg.graceful_timeout)
        os._exit(0)

    def _cap_keepalive(self, deadline):
        """gunicorn 27+, on stopping: idle connections close soon."""
        deadline = min(deadline, time.monotonic() + STOP_KEEPALIVE_LINGER)
        for conn in getattr(self, 'pending_conns', ()):
            # Connected, nothing sent yet: as idle as a kept-alive one.
            conn.timeout = min(conn.timeout, deadline)
        super()._cap_keepalive(deadline)
