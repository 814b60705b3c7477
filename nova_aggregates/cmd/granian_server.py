"""nova-aggregates-api under granian (``[api] server = granian``).

granian runs embedded, through its Python API (``granian.server.Server``,
WSGI interface): a main process that binds the socket and watches ``[api]
workers`` worker processes, each serving HTTP/1.1 from a Rust runtime and
running the application on up to ``[api] threads`` Python threads.

**Workers.**  granian starts them with ``multiprocessing``, in the start
method of the interpreter ("fork" on Linux before Python 3.14; "spawn"
otherwise).  The application is built in the worker by ``_worker_app``
(granian's target loader, called in the worker before it serves), which
first does what gunicorn's hooks do for our gunicorn workers
(``nova_aggregates.cmd.serving.worker_started``, then the application,
then ``worker_app_loaded``) and registers ``worker_exiting`` to run when the
worker process ends.  A forked worker has the configuration the main
process parsed; a spawned one parses the same command line again.

**Logging.**  granian's own log (``_granian`` logger: start, workers,
stop, errors of the server) goes through our logging setup (oslo.log), as
an increment over it: granian's default configuration would replace our
handlers.  granian's access log is off; our request log (``RequestLog``
in the paste pipeline) logs each request.

**What differs from our gunicorn worker** (nova_aggregates.cmd.worker):
granian reads the request line and headers itself, within
``client_socket_timeout`` (its ``http1_header_read_timeout``), without a
thread; the body is read by the request thread through ``BodySizeLimit``,
whose deadline is checked between reads only; there is no send timeout
and no lingering close.  ``BodySizeLimit``'s request to close the
connection (``ENV_CLOSE_CONNECTION``) becomes a ``Connection: close``
response header, which granian (hyper) honours.
"""

import functools
import logging
from multiprocessing import util as mp_util
import os
import signal
import threading
import time

from granian import constants as granian_constants
from granian import http as granian_http
from granian import server as granian_server

from nova_aggregates.api import middleware
from nova_aggregates.cmd import common
from nova_aggregates.cmd import serving
from nova_aggregates import conf as na_conf

LOG = logging.getLogger(__name__)

#: Connections one worker holds at most (granian's backpressure), kept-alive
#: ones included; as gunicorn's worker_connections.
MAX_CONNECTIONS = 1000
#: Seconds a stopping worker may take to finish its requests before the
#: main process kills it (as graceful_timeout of our gunicorn setup).
GRACEFUL_TIMEOUT = 30
#: Once a worker stops, requests still waiting for their body get this long
#: (seconds) before they may be dropped: one sent at a normal pace gets
#: through (as our gunicorn worker's STOP_READ_GRACE).
STOP_READ_GRACE = 1.0
#: Seconds left for the last responses to go out before a worker that
#: drops waiting connections exits.
STOP_FLUSH = 0.25
#: granian's bounds for http1_header_read_timeout (milliseconds).
HEADER_TIMEOUT_MS = (1, 60000)


class _Input:
    """A request's ``wsgi.input`` that tells the worker while a read waits
    for the client."""

    __slots__ = ('stream', 'worker')

    def __init__(self, stream, worker):
        self.stream = stream
        self.worker = worker

    def _waiting(self, method, *args):
        worker = self.worker
        with worker.lock:
            worker.reading += 1
        try:
            return method(*args)
        finally:
            with worker.lock:
                worker.reading -= 1

    def read(self, *args):
        return self._waiting(self.stream.read, *args)

    def readline(self, *args):
        return self._waiting(self.stream.readline, *args)

    def readlines(self, *args):
        return self._waiting(self.stream.readlines, *args)

    def __iter__(self):
        return iter(self.readline, b'')


class _Worker:
    """The application as one granian worker process serves it, and how
    that process stops.

    ``Connection: close`` is added to a response when ``BodySizeLimit``
    asked for the connection to close (the rest of a refused body is not
    read) or once the worker stops.

    **Stopping.**  On SIGTERM or SIGINT granian stops accepting, closes
    idle kept-alive connections and waits for every other connection to
    finish: also for one whose client has sent half a request head (until
    the header read timeout) or part of a body and then nothing (forever,
    until ``workers_kill_timeout``).  So this worker keeps count of the
    requests in the application and of those among them whose thread is
    blocked reading the body from the client.  ``STOP_READ_GRACE``
    seconds after the signal, as soon as no request is being processed
    (all that is left waits for clients), it lets the last responses go
    out for ``STOP_FLUSH`` seconds, runs the worker's clean-up and exits,
    dropping those connections (their clients see the connection closed,
    no response).  Requests being processed finish first; one still
    running ``GRACEFUL_TIMEOUT`` seconds after the signal is killed by
    granian's main process.
    """

    def __init__(self, application):
        self.application = application
        self.lock = threading.Lock()
        #: Requests in the application, and those of them waiting for
        #: their client in a read of the body.
        self.running = 0
        self.reading = 0
        self.stopping = False
        self._exit_lock = threading.Lock()
        self._wakeup = None

    def __call__(self, environ, start_response):
        if environ.get('CONTENT_LENGTH') or \
                environ.get('HTTP_TRANSFER_ENCODING'):
            environ['wsgi.input'] = _Input(environ['wsgi.input'], self)

        def _start_response(status, headers, exc_info=None):
            if self.stopping or middleware.ENV_CLOSE_CONNECTION in environ:
                headers.append(('Connection', 'close'))
            return start_response(status, headers, exc_info)

        with self.lock:
            self.running += 1
        try:
            return self.application(environ, _start_response)
        finally:
            with self.lock:
                self.running -= 1

    # -- stopping (in the worker process) ------------------------------------

    def watch_signals(self):
        """From the worker's main thread, before granian sets its signal
        handlers: learn of SIGTERM and SIGINT (through the wakeup fd, which
        granian's Python handlers leave alone)."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._wakeup = read_fd
        threading.Thread(target=self._watch, name='granian-stop',
                         daemon=True).start()

    def _watch(self):
        stop = (signal.SIGTERM, signal.SIGINT)
        while os.read(self._wakeup, 1)[0] not in stop:
            pass
        # Only watched: granian's handler stops the worker.  (Raising the
        # signal again would run that handler inside itself, where
        # granian 2.8 deadlocks.)
        self.stopping = True
        time.sleep(STOP_READ_GRACE)
        while True:
            with self.lock:
                busy = self.running - self.reading
                waiting = self.reading
            if not busy:
                break
            time.sleep(0.05)
        time.sleep(STOP_FLUSH)
        if not self._exit_lock.acquire(blocking=False):
            # granian stopped by itself: its exit runs the clean-up.
            return
        if waiting:
            LOG.info('Worker (pid: %d) stopping without %d request(s) '
                     'still waiting for their body from the client.',
                     os.getpid(), waiting)
        serving.worker_exiting()
        logging.shutdown()
        os._exit(0)

    def exiting(self):
        """At the worker process's exit (multiprocessing's finalizers)."""
        if self._exit_lock.acquire(blocking=False):
            serving.worker_exiting()


def _worker_app(argv, load):
    """granian's target loader, in each worker process: the per-worker
    services, the application, and the clean-up at the worker's exit."""
    conf = na_conf.CONF
    if getattr(conf, '_namespace', None) is None:
        # A spawned worker: nothing of the main process's parsing.
        common.parse_args(list(argv))
    serving.worker_started(conf)
    worker = _Worker(load(conf))
    serving.worker_app_loaded()
    worker.watch_signals()
    # Run by multiprocessing as the worker process ends (after granian has
    # stopped serving), as gunicorn's worker_exit.
    mp_util.Finalize(None, worker.exiting, exitpriority=10)
    return worker


def header_read_timeout_ms(seconds):
    """``[api] client_socket_timeout`` in granian's terms: milliseconds,
    within granian's bounds (0, no limit, is its largest)."""
    low, high = HEADER_TIMEOUT_MS
    if not seconds:
        return high
    return max(low, min(high, int(round(seconds * 1000))))


def settings(conf):
    """The keyword arguments of ``granian.server.Server`` for ``conf``."""
    api = conf.api
    return dict(
        address=api.bind_host,
        port=api.bind_port,
        interface=granian_constants.Interfaces.WSGI,
        # What gunicorn serves: HTTP/1.1 (no h2c prior knowledge).
        http=granian_constants.HTTPModes.http1,
        workers=api.workers,
        # The threads that run the application (per worker, started on
        # demand): [api] threads, as gunicorn's threads.  Our requests
        # wait on the database and on XenServer with the GIL released, so
        # several threads do serve in parallel; more than that would only
        # queue on the database pool.
        blocking_threads=api.threads,
        # granian's backpressure caps the *connections* a worker accepts
        # (kept-alive and idle ones count), not the requests running.  At
        # [api] threads, a few idle keep-alive clients would stop the
        # worker accepting anyone else; the threads limit the concurrency
        # already, requests past it wait for a free thread.  So, as
        # gunicorn's worker_connections: many.
        backpressure=MAX_CONNECTIONS,
        http1_settings=granian_http.HTTP1Settings(
            header_read_timeout=header_read_timeout_ms(
                api.client_socket_timeout),
            keep_alive=True),
        # Our request log (oslo.log) logs each request; granian's server
        # log goes to our handlers (see the module).
        log_enabled=True,
        log_access=False,
        log_dictconfig={'version': 1, 'incremental': True,
                        'formatters': {}, 'handlers': {}, 'loggers': {}},
        # A worker that dies is replaced, as gunicorn does (granian stops
        # the whole server if they keep dying).
        respawn_failed_workers=True,
        # On SIGTERM or SIGINT each worker stops accepting, closes idle
        # connections and finishes its requests; one still busy this long
        # after is killed.
        workers_kill_timeout=GRACEFUL_TIMEOUT,
    )


def serve(conf, argv, load):
    """Serve ``load(conf)`` (built in each worker) until SIGTERM or SIGINT;
    ``argv``: the command line ``conf`` was parsed from."""
    server = granian_server.Server(
        'nova_aggregates.wsgi:application', **settings(conf))
    server.serve(target_loader=functools.partial(_worker_app, tuple(argv),
                                                 load),
                 wrap_loader=False)
