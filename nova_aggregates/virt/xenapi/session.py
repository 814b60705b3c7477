"""Logged-in XenAPI sessions, one per hypervisor URL, shared by all threads.

Why this module exists
    The ``XenAPI`` SDK gives us ``XenAPI.Session``, an ``xmlrpc.client``
    ServerProxy that knows how to log in and that silently logs in again
    when the server answers ``SESSION_INVALID``.  It has no timeouts, no
    notion of reuse across requests and it is not safe to use from two
    threads at once (a ServerProxy owns one HTTP connection).  This module
    adds exactly those three things and nothing else:

    * ``SessionManager`` keeps one logged-in ``XenAPI.Session`` per URL.
      A warm call makes no login.  Each URL has a lock that is held for
      the duration of one XenAPI call, so threads take turns on the shared
      HTTP connection; calls to different hosts run in parallel.  (One
      session per host is what xapi expects from a well-behaved client:
      every login creates a server-side session object.)
    * ``_TimeoutTransport`` / ``_TimeoutSafeTransport`` bound the TCP/TLS
      connect with ``[xenapi] connect_timeout`` and every later socket
      read/write with ``[xenapi] call_timeout``.  TLS certificates are
      verified unless ``[xenapi] verify_tls`` is off; ``[xenapi] ca_file``
      names the CA bundle.
    * ``SessionManager.call`` is the single place where SDK and transport
      errors become our types:

      ==========================================  =========================
      raised below                                raised by ``call``
      ==========================================  =========================
      ``XenAPI.Failure``                          ``XenAPIFailure`` (keeps
                                                  the details list)
      socket timeout / ``TimeoutError``,          ``HypervisorTimeout``
      ``Fault(504)`` (SDK login ETIMEDOUT)
      refused/reset/other ``OSError``, TLS        ``HypervisorUnreachable``
      errors, ``http.client`` errors,
      ``ProtocolError`` (HTTP status != 200),
      other ``xmlrpc.client.Fault`` (the SDK's
      401 "You must log in" / 500 "Tried 3
      times"), unparsable answers
      ==========================================  =========================

Session life cycle
    A session is created (and logged in) on first use of a URL.  It is
    dropped -- without a logout call, because the server side is about to
    forget it anyway -- when the host answers ``HOST_IS_SLAVE`` (it joined
    a pool: its sessions are dead and password logins are refused, so the
    caller must re-resolve the master), when the SDK gives up re-logging in
    (``Fault``), and on request of the pool code after a join or an eject.
    ``SESSION_INVALID`` needs nothing from us: the SDK logs in again with
    the remembered credentials and retries the call.
"""

import http.client
import socket
import ssl
import threading
import urllib.parse
import xml.parsers.expat
import xmlrpc.client

from oslo_log import log as logging
import XenAPI

from nova_aggregates import exception

LOG = logging.getLogger(__name__)

#: Placeholder argument replaced by the session's own ref at call time, for
#: calls such as ``session.get_this_host(<session ref>)``.
THIS_SESSION = object()

#: Sent with every login so that xapi's session list shows who we are.
ORIGINATOR = 'nova-aggregates'
_LOGIN_API_VERSION = XenAPI.API_VERSION_1_2


class XenAPIFailure(Exception):
    """XenServer answered with a Failure envelope.

    ``details`` is the ``ErrorDescription`` list; branch on ``code`` (its
    first item) only, the remaining items are free text for humans.  This
    type never leaves the xenapi driver: the pool code turns it into a
    ``PoolOperationRefused`` naming the compute host.
    """

    def __init__(self, host, method, details):
        self.host = host
        self.method = method
        self.details = [str(item) for item in details] or ['UNKNOWN_ERROR']
        self.code = self.details[0]
        super().__init__('%s on %s: %s' % (method, host, self.details))

    @property
    def text(self):
        """The parameters of the failure, as one string."""
        return ' '.join(self.details[1:])


class _ConnectTimeout(TimeoutError):
    """The TCP connect or TLS handshake took longer than connect_timeout."""


class _TimeoutConnectionMixin:
    """connect() under ``connect_timeout``, then ``call_timeout`` per I/O."""

    call_timeout = None

    def connect(self):
        try:
            # self.timeout (the connect timeout) covers TCP and, for https,
            # the TLS handshake done inside super().connect().
            super().connect()
        except TimeoutError as exc:
            raise _ConnectTimeout(str(exc) or 'connect timed out') from exc
        self.sock.settimeout(self.call_timeout)


class _HTTPConnection(_TimeoutConnectionMixin, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_TimeoutConnectionMixin, http.client.HTTPSConnection):
    pass


class _TimeoutTransport(xmlrpc.client.Transport):
    """Plain-HTTP XML-RPC transport with connect and call timeouts."""

    def __init__(self, connect_timeout, call_timeout):
        super().__init__()
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout

    def _new_connection(self, chost, x509):
        conn = _HTTPConnection(chost, timeout=self.connect_timeout)
        conn.call_timeout = self.call_timeout
        return conn

    def make_connection(self, host):
        # Same keep-alive reuse as the stdlib, with our connection class.
        if self._connection and host == self._connection[0]:
            return self._connection[1]
        chost, self._extra_headers, x509 = self.get_host_info(host)
        self._connection = host, self._new_connection(chost, x509)
        return self._connection[1]


class _TimeoutSafeTransport(_TimeoutTransport):
    """HTTPS variant; carries the SSL context (verifying or not)."""

    def __init__(self, connect_timeout, call_timeout, context):
        super().__init__(connect_timeout, call_timeout)
        self.context = context

    def _new_connection(self, chost, x509):
        conn = _HTTPSConnection(chost, timeout=self.connect_timeout,
                                context=self.context, **(x509 or {}))
        conn.call_timeout = self.call_timeout
        return conn


def make_ssl_context(verify, ca_file=None):
    """TLS context for XenServer hosts: verifying by default."""
    if verify:
        return ssl.create_default_context(cafile=ca_file)
    # Opt-out for self-signed hosts the operator trusts.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _HostSession:
    """One URL: its lock and its (lazily logged-in) XenAPI.Session."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.session = None


class SessionManager:
    """Logged-in XenAPI sessions keyed by hypervisor URL; thread-safe."""

    def __init__(self, conf):
        self.conf = conf
        self._lock = threading.Lock()
        self._hosts = {}
        self._ssl_context = None

    # -- public -------------------------------------------------------------

    def call(self, url, host, method, *args):
        """Run ``method`` (e.g. ``'pool.get_all'``) on the host at ``url``.

        ``host`` is the compute host name used in error messages.  Logs in
        first if there is no session for ``url`` yet.  Raises XenAPIFailure,
        HypervisorUnreachable or HypervisorTimeout.
        """
        scheme = urllib.parse.urlsplit(url or '').scheme.lower()
        if scheme not in ('http', 'https'):
            raise exception.HypervisorUnreachable(
                host=host, reason='unusable hypervisor URL %r' % (url,))
        entry = self._entry(url)
        with entry.lock:
            current = method
            try:
                if entry.session is None:
                    current = 'session.login_with_password'
                    entry.session = self._login(url)
                    current = method
                session = entry.session
                args = tuple(session.handle if arg is THIS_SESSION else arg
                             for arg in args)
                target = session.xenapi
                for part in method.split('.'):
                    target = getattr(target, part)
                return target(*args)
            except Exception as exc:
                # The one place where errors are translated.
                translated = self._translate(entry, host, current, exc)
                if translated is exc:
                    raise
                raise translated from exc

    def drop(self, url):
        """Forget the session to ``url`` (no logout: it is dead already)."""
        with self._lock:
            entry = self._hosts.get(url)
        if entry is not None:
            with entry.lock:
                entry.session = None

    def has_session(self, url):
        with self._lock:
            entry = self._hosts.get(url)
        return entry is not None and entry.session is not None

    def close_all(self):
        """Log out of every host, best effort (used on driver cleanup)."""
        with self._lock:
            entries = list(self._hosts.values())
            self._hosts.clear()
        for entry in entries:
            with entry.lock:
                session, entry.session = entry.session, None
            if session is None:
                continue
            try:
                session.xenapi.session.logout()
            except Exception as exc:  # nothing useful to do at shutdown
                LOG.debug('Logout from %s failed: %s', entry.url, exc)

    # -- internals ----------------------------------------------------------

    def _entry(self, url):
        with self._lock:
            entry = self._hosts.get(url)
            if entry is None:
                entry = self._hosts[url] = _HostSession(url)
            return entry

    def _transport(self, url):
        opts = self.conf.xenapi
        if urllib.parse.urlsplit(url).scheme.lower() == 'https':
            if self._ssl_context is None:
                # Built once: loading a CA bundle is not free.
                self._ssl_context = make_ssl_context(opts.verify_tls,
                                                     opts.ca_file)
            return _TimeoutSafeTransport(opts.connect_timeout,
                                         opts.call_timeout,
                                         self._ssl_context)
        return _TimeoutTransport(opts.connect_timeout, opts.call_timeout)

    def _login(self, url):
        opts = self.conf.xenapi
        # The transport carries the SSL context, so ignore_ssl only matters
        # for readers of this line: it states the intent.
        session = XenAPI.Session(url, transport=self._transport(url),
                                 ignore_ssl=not opts.verify_tls)
        session.login_with_password(opts.connection_username,
                                    opts.connection_password,
                                    _LOGIN_API_VERSION, ORIGINATOR)
        LOG.debug('Logged in to XenAPI at %s', url)
        return session

    def _translate(self, entry, host, method, exc):
        opts = self.conf.xenapi
        if isinstance(exc, XenAPI.Failure):
            failure = XenAPIFailure(host, method, exc.details)
            if failure.code == 'HOST_IS_SLAVE':
                # Our session (if any) died when the host joined a pool.
                entry.session = None
            return failure
        if isinstance(exc, xmlrpc.client.Fault):
            # Raised by the SDK itself: 401 (never logged in), 500 (gave up
            # re-logging in, or a broken envelope), 504 (login ETIMEDOUT).
            entry.session = None
            if exc.faultCode == 504:
                return exception.HypervisorTimeout(
                    host=host, timeout=opts.connect_timeout)
            return exception.HypervisorUnreachable(
                host=host, reason='XenAPI fault %s: %s' % (
                    exc.faultCode, exc.faultString))
        if isinstance(exc, _ConnectTimeout):
            return exception.HypervisorTimeout(host=host,
                                               timeout=opts.connect_timeout)
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return exception.HypervisorTimeout(host=host,
                                               timeout=opts.call_timeout)
        if isinstance(exc, xmlrpc.client.ProtocolError):
            return exception.HypervisorUnreachable(
                host=host, reason='HTTP %s %s from %s' % (
                    exc.errcode, exc.errmsg, entry.url))
        if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
            return exception.HypervisorUnreachable(
                host=host, reason='TLS error talking to %s: %s' % (
                    entry.url, exc))
        if isinstance(exc, (OSError, http.client.HTTPException)):
            return exception.HypervisorUnreachable(
                host=host, reason='%s: %s' % (
                    entry.url, str(exc) or type(exc).__name__))
        if isinstance(exc, (xml.parsers.expat.ExpatError, TypeError,
                            ValueError)):
            # Unparsable XML, or an answer that is not a XenAPI envelope
            # (the SDK then trips over it with a TypeError).
            return exception.HypervisorUnreachable(
                host=host, reason='bad answer from %s (%s): %s' % (
                    entry.url, type(exc).__name__, exc))
        return exc
