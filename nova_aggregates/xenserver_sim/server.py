"""HTTP(S) plumbing: listening sockets that can be taken down and brought back,
and the XML-RPC request handler of a host endpoint.

We run our own accept loop instead of socketserver so that ``stop()`` closes
the listening socket at once (clients then get "connection refused", like a
host that is down) and cuts every open keep-alive connection, and so that TLS
handshakes happen on the per-connection thread rather than in the accept loop.
"""

import http.server
import logging
import socket
import ssl
import threading
import xmlrpc.client

from nova_aggregates.xenserver_sim import faults as faultlib
from nova_aggregates.xenserver_sim.xapi import Reply

LOG = logging.getLogger(__name__)

# Idle keep-alive connections are closed after this long; the stdlib client
# reconnects.
IDLE_TIMEOUT = 120.0

XML_PATHS = ('/', '/RPC2')
MALFORMED_BODY = (
    b"<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"
    b'<value><struct><member><name>Status</name>'
)
ERROR_PAGE = (
    b'<html><head><title>500 Internal Server Error</title></head>'
    b'<body><h1>Internal Server Error</h1></body></html>'
)


def _hard_shutdown(sock):
    # socket.socket.shutdown also works on an SSLSocket without touching its
    # TLS state.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class Listener:
    """A TCP listener with one thread per connection.

    ``handler_cls`` is a BaseHTTPRequestHandler subclass; it reaches
    ``context`` through ``self.server.context``.
    """

    def __init__(
        self, name, address, port, handler_cls, context, ssl_context=None
    ):
        self.name = name
        self.address = address
        self.port = port
        self.handler_cls = handler_cls
        self.context = context
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._sock = None
        self._thread = None
        self._conns = set()

    @property
    def running(self):
        return self._sock is not None

    def start(self):
        with self._lock:
            if self._sock is not None:
                return
            sock = socket.create_server((self.address, self.port), backlog=128)
            # Remember it, so that restarts reuse the port.
            self.port = sock.getsockname()[1]
            self._sock = sock
            self._thread = threading.Thread(
                target=self._accept_loop,
                args=(sock,),
                name='sim-accept-%s' % self.name,
                daemon=True,
            )
            self._thread.start()

    def stop(self):
        with self._lock:
            sock, self._sock = self._sock, None
            thread, self._thread = self._thread, None
            conns = list(self._conns)
        if sock is None:
            return
        _hard_shutdown(sock)  # wakes accept() on Linux
        sock.close()
        for conn in conns:
            _hard_shutdown(conn)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _accept_loop(self, sock):
        while True:
            try:
                conn, peer = sock.accept()
            except OSError:
                return  # listener closed
            with self._lock:
                if self._sock is not sock:
                    conn.close()
                    return
                self._conns.add(conn)
            threading.Thread(
                target=self._serve,
                args=(conn, peer),
                daemon=True,
                name='sim-conn-%s' % self.name,
            ).start()

    def _serve(self, conn, peer):
        tracked = conn
        try:
            conn.settimeout(IDLE_TIMEOUT)
            # Headers and body go out in separate writes; without NODELAY,
            # Nagle plus the client's delayed ACK would add ~40 ms to every
            # call.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                tls = self.ssl_context.wrap_socket(conn, server_side=True)
                # wrap_socket detaches the plain socket; track the TLS one from
                # now on.
                with self._lock:
                    self._conns.discard(conn)
                    self._conns.add(tls)
                tracked = conn = tls
            self.handler_cls(conn, peer, self)
        except (OSError, ssl.SSLError) as exc:
            # Client went away, connection cut by stop(), or a refused TLS
            # handshake.
            LOG.debug('%s: connection from %s ended: %s', self.name, peer, exc)
        finally:
            with self._lock:
                self._conns.discard(tracked)
            try:
                conn.close()
            except OSError:
                pass


class QuietHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'  # keep-alive, as xmlrpc.client expects

    def log_message(self, fmt, *args):
        LOG.debug('%s %s', self.server.name, fmt % args)

    def send_body(self, status, content_type, body, close=False):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        if close:
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        try:
            length = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            length = -1
        if length < 0:
            return None
        return self.rfile.read(length)


class XmlRpcHandler(QuietHandler):
    """POST / and POST /RPC2 of one simulated host; context is a
    HostEndpoint."""

    server_version = 'xapi/1.20'
    sys_version = ''

    def do_POST(self):
        if self.path.split('?', 1)[0] not in XML_PATHS:
            self.send_body(
                404, 'text/html', b'<html><body>Not found</body></html>'
            )
            return
        body = self.read_body()
        reply = self.server.context.handle(body)
        try:
            if reply.kind == faultlib.DROP_CONNECTION:
                self.close_connection = True
                _hard_shutdown(self.connection)
            elif reply.kind == faultlib.HTTP_500:
                self.send_body(500, 'text/html', ERROR_PAGE, close=True)
            elif reply.kind == faultlib.MALFORMED:
                self.send_body(200, 'text/xml', MALFORMED_BODY)
            else:
                self.send_body(200, 'text/xml', reply.payload)
                self.wfile.flush()
        finally:
            if reply.after is not None:
                # e.g. the endpoint goes down once host.reboot is answered.
                self.close_connection = True
                reply.after()

    def do_GET(self):
        self.send_body(
            405, 'text/html', b'<html><body>XML-RPC only: POST</body></html>'
        )


class HostEndpoint:
    """Glue between the HTTP handler of one host and the XenAPI service."""

    def __init__(self, fleet, host):
        self.fleet = fleet
        self.host = host

    def handle(self, body):
        try:
            if body is None:
                raise ValueError('bad Content-Length')
            params, method = xmlrpc.client.loads(body, use_builtin_types=False)
            if not method:
                raise ValueError('not a methodCall')
        except Exception as exc:
            # Real xapi answers an unparsable request with an HTTP 500 page.
            LOG.debug('%s: unparsable request: %s', self.host.name, exc)
            return Reply(faultlib.HTTP_500)
        self.fleet._record_call(self.host.name, method)
        try:
            reply = self.fleet._service.call(self.host, method, params)
            if reply.kind == 'response':
                reply.payload = xmlrpc.client.dumps(
                    (reply.payload,), methodresponse=True, allow_none=True
                ).encode('utf-8')
        except Exception:
            LOG.exception(
                '%s: simulator error handling %s', self.host.name, method
            )
            return Reply(faultlib.HTTP_500)
        return reply
