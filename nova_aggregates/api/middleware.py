"""Small WSGI filters of the pipeline: request id, request log, body limit.

They are plain WSGI callables: a filter that wrapped every request in webob
objects would cost more than the handlers behind it.  webob is used on the
error paths only.
"""

import functools
import io
import logging
import math
import os
import re
import threading
import time

from oslo_context import context as oslo_context
import webob

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from nova_aggregates import context

LOG = logging.getLogger('nova_aggregates.api.requests')

#: Same environ keys as oslo.middleware's RequestId, which oslo.context and
#: oslo.log read.
ENV_REQUEST_ID = 'openstack.request_id'
ENV_GLOBAL_REQUEST_ID = 'openstack.global_request_id'
_GLOBAL_ID = re.compile(r'^req-[a-f0-9]{8}(-[a-f0-9]{4}){3}-[a-f0-9]{12}$')


#: Request ids made per read of the system's random source.
REQUEST_IDS_PER_READ = 256
#: Ids made ahead, taken from the end (``list.pop`` is atomic: threads
#: need no lock; two refilling at once only make more).
_request_ids = []
# A forked worker must not hand out ids its parent (or a sibling) made.
os.register_at_fork(after_in_child=_request_ids.clear)


def new_request_id():
    """``req-`` and a random (version 4) UUID, as oslo.context's
    ``generate_request_id`` makes them.  The random bytes of 256 ids are
    read at once: a read of the random source per request was a system
    call, a fifth of a poll's own time in the server."""
    try:
        return _request_ids.pop()
    except IndexError:
        _request_ids.extend(_random_request_ids(REQUEST_IDS_PER_READ))
        return _request_ids.pop()


def _random_request_ids(count):
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for start in range(0, len(raw), 16):
        raw[start + 6] = raw[start + 6] & 0x0f | 0x40     # version 4
        raw[start + 8] = raw[start + 8] & 0x3f | 0x80     # RFC 4122 variant
        text = raw[start:start + 16].hex()
        ids.append('req-%s-%s-%s-%s-%s' % (text[:8], text[8:12], text[12:16],
                                           text[16:20], text[20:]))
    return ids


def add_headers(start_response, headers):
    """A start_response that appends ``headers`` to the response's."""
    def _start_response(status, response_headers, exc_info=None):
        response_headers.extend(headers)
        return start_response(status, response_headers, exc_info)
    return _start_response


class RequestId:
    """A request id per request: ``x-openstack-request-id`` and the compute
    API's ``x-compute-request-id`` on every response.  A well-formed inbound
    ``X-OpenStack-Request-ID`` is kept as the global request id."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        req_id = new_request_id()
        environ[ENV_REQUEST_ID] = req_id
        inbound = environ.get('HTTP_X_OPENSTACK_REQUEST_ID')
        if inbound and _GLOBAL_ID.match(inbound):
            environ[ENV_GLOBAL_REQUEST_ID] = inbound
        return self.application(environ, add_headers(start_response, [
            ('x-openstack-request-id', req_id),
            ('x-compute-request-id', req_id)]))


def request_id_filter_factory(global_conf, **local_conf):
    return RequestId


#: Put in the environ of each request by nova-aggregates-api's gunicorn
#: worker (nova_aggregates.cmd.worker): ``defer(function)`` runs
#: ``function()`` once the request's thread is idle, before it waits for
#: the connection's next request (or when the connection ends).  RequestLog
#: hands it its line: written after the response is sent, the line (some
#: 40-75 us of oslo.log's formatting) still delayed a client that sends its
#: next request at once.  Under other servers the line is written at
#: ``close()``.
ENV_DEFER_UNTIL_IDLE = 'nova_aggregates.defer_until_idle'


class RequestLog:
    """One log line per request: id, method, path, status, duration
    (measured when the server has sent the response)."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        req_id = environ.get(ENV_REQUEST_ID, '-')
        # Log lines of this request must not carry the identity of the
        # previous one on this thread; auth replaces this context.
        anonymous = _anonymous_context(req_id)
        status = []

        def _start_response(status_line, headers, exc_info=None):
            status.append(status_line.split(' ', 1)[0])
            return start_response(status_line, headers, exc_info)

        def log():
            elapsed = time.perf_counter() - start
            path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO',
                                                                '')
            if environ.get('QUERY_STRING'):
                path += '?' + environ['QUERY_STRING']
            args = (req_id, environ.get('REQUEST_METHOD'), path,
                    status[0] if status else '-', elapsed)
            # The request's own context (the caller's ids in the line's
            # prefix): by the time a deferred line is written, the thread's
            # current one may be the next request's.
            request_context = oslo_context.get_current()
            if request_context is anonymous:
                # The thread's next request renames that one.
                request_context = context.RequestContext(
                    request_id=req_id, overwrite=False)
            defer = environ.get(ENV_DEFER_UNTIL_IDLE)
            if defer is not None:
                defer(functools.partial(_write_request_line, args,
                                        request_context))
            else:
                _write_request_line(args, request_context)

        return _LoggedOnClose(self.application(environ, _start_response),
                              log)


#: Per thread: the context of its requests until auth names the caller.
_anonymous = threading.local()


def _anonymous_context(request_id):
    """The thread's identity-less context, renamed ``request_id`` and made
    current: cheaper than a new RequestContext per request (auth makes the
    caller's anyway).  Only ``request_id`` is set on it; nothing keeps it
    past the request (the request's log line takes a copy)."""
    anonymous = getattr(_anonymous, 'context', None)
    if anonymous is None:
        anonymous = _anonymous.context = context.RequestContext(
            request_id=request_id, overwrite=True)
    else:
        anonymous.request_id = request_id
        anonymous.update_store()
    return anonymous


def _write_request_line(args, request_context):
    LOG.info('%s "%s %s" status: %s time: %.4f', *args,
             extra={'context': request_context})


class _LoggedOnClose:
    """A response body that logs its request once the server has sent it
    (PEP 3333: the server calls ``close()`` then): the client does not wait
    for the log line, whose formatting costs a small request a tenth of
    its time.  Not a list: some servers (granian) call ``close()`` only on
    other iterables."""

    __slots__ = ('result', 'log')

    def __init__(self, result, log):
        self.result = result
        self.log = log

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            close = getattr(self.result, 'close', None)
            if close is not None:
                close()
        finally:
            self.log()


def request_log_filter_factory(global_conf, **local_conf):
    return RequestLog


#: Put in the environ of each request by nova-aggregates-api's worker
#: (nova_aggregates.cmd.worker): an object whose ``arm(sock, deadline)``
#: makes a read on ``sock`` (``environ['gunicorn.socket']``) that is still
#: blocked at ``deadline`` (a ``time.monotonic()`` value) return end of file,
#: whose ``disarm(sock)`` cancels that, and whose ``was_cut(sock)`` says
#: whether it happened (at the deadline, or earlier: the worker stops).
#: Other WSGI servers do not set it: a body deadline is then checked between
#: reads only, and a read that blocks lasts as long as the server lets it.
ENV_READ_DEADLINES = 'nova_aggregates.read_deadlines'

#: Set to True by BodySizeLimit when the connection must not carry another
#: request after this response (the body was refused or not read to its
#: end).  nova-aggregates-api's worker closes the connection (with
#: ``Connection: close``); PEP 3333 forbids the application a Connection
#: header, so under another server the server decides.
ENV_CLOSE_CONNECTION = 'nova_aggregates.close_connection'

#: Bytes asked of the server per read while throwing a body away.
_DISCARD_STEP = 1024 * 1024


class _Body:
    """A request body read against a deadline (``inf``: none)."""

    __slots__ = ('stream', 'deadline', 'sock', 'deadlines', 'armed',
                 'timed_out')

    def __init__(self, environ, timeout):
        self.stream = environ['wsgi.input']
        self.sock = environ.get('gunicorn.socket')
        self.deadlines = environ.get(ENV_READ_DEADLINES) \
            if self.sock is not None else None
        self.deadline = math.inf
        self.armed = False
        self.timed_out = False
        # Armed even without a timeout: a stopping server cuts it then.
        self.set_deadline(time.monotonic() + timeout if timeout
                          else math.inf)

    def set_deadline(self, deadline):
        self.deadline = deadline
        if self.deadlines is not None:
            self.deadlines.arm(self.sock, deadline)
            self.armed = True

    def shorten(self, seconds):
        """At most ``seconds`` more (for throwing the rest away)."""
        deadline = time.monotonic() + seconds
        if deadline < self.deadline:
            self.set_deadline(deadline)

    def expired(self):
        return time.monotonic() >= self.deadline

    def cut(self):
        """Whether the server cut the reads (``ENV_READ_DEADLINES``)."""
        return self.deadlines is not None and self.deadlines.was_cut(
            self.sock)

    def read(self, size):
        """Up to ``size`` bytes; ``b''`` at the end, or once expired
        (``timed_out`` then says so)."""
        if self.expired():
            self.timed_out = True
            return b''
        data = self.stream.read(size)
        if not data and self.expired():
            # The read was cut at the deadline, or ended just after it.
            self.timed_out = True
        return data

    def read_upto(self, size, step):
        """At most ``size`` bytes: fewer only at the end or the deadline."""
        parts = []
        left = size
        while left > 0:
            data = self.read(min(left, step))
            if not data:
                break
            parts.append(data)
            left -= len(data)
        return parts[0] if len(parts) == 1 else b''.join(parts)

    def discard(self, size):
        """Read and drop up to ``size`` bytes; how many there were."""
        total = 0
        while total < size:
            data = self.read(min(size - total, _DISCARD_STEP))
            if not data:
                break
            total += len(data)
        return total

    def done(self):
        if self.armed:
            self.armed = False
            self.deadlines.disarm(self.sock)


class BodySizeLimit:
    """413 for bodies over ``[api] max_request_body_size``, declared or not,
    answered so that the client sees it whatever its sending pattern.

    A client that sends its whole body before it reads (Python's
    http.client, requests, keystoneauth) would only see a reset connection
    if the 413 were answered and the connection closed over unread data.
    So a body over the limit is read and thrown away, up to ``[api]
    max_discard_body_size`` and within ``[api] discard_body_timeout``,
    before the 413; a declared length over that cap is refused at once,
    unread.  Either way the connection closes after the 413
    (``ENV_CLOSE_CONNECTION``; nova-aggregates-api closes it lingering, so
    that a client reading while it sends, like curl, gets the 413 too).

    A body within the limit is read here, whole, within ``[api]
    client_body_timeout`` (408 past it), and handed on in memory: nothing
    behind this filter waits on the client.  Under nova-aggregates-api a
    read blocked at the deadline is cut (``ENV_READ_DEADLINES``); under any
    other WSGI server the deadline is checked between reads, and a stalled
    read waits for the server's own timeout.

    Requests without a body cost one dictionary lookup or two.
    """

    def __init__(self, application, limit=None):
        self.application = application
        self.limit = limit

    def _fault(self, environ, start_response, status, message, close=False):
        if close:
            environ[ENV_CLOSE_CONNECTION] = True
        response = faults.fault_response(
            status, message, wsgi.wants_xml(webob.Request(environ)))
        return response(environ, start_response)

    def __call__(self, environ, start_response):
        length = environ.get('CONTENT_LENGTH')
        if length:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared < 0:
                return self._fault(environ, start_response, 400,
                                   'Invalid Content-Length header.',
                                   close=True)
            if declared:
                return self._declared(environ, start_response, declared)
        elif 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower():
            # Without a length: a server that decodes the chunks says so.
            if environ.get('wsgi.input_terminated') or environ.get(
                    'webob.is_body_readable'):
                return self._chunked(environ, start_response)
        return self.application(environ, start_response)

    @staticmethod
    def _in_memory(environ, body):
        environ['wsgi.input'] = io.BytesIO(body)
        environ['CONTENT_LENGTH'] = str(len(body))
        # webob reads it as it is instead of copying it first.
        environ['webob.is_body_seekable'] = True

    def _too_large(self, environ, start_response, limit):
        return self._fault(
            environ, start_response, 413,
            'Request body is larger than the limit of %d bytes.' % limit,
            close=True)

    def _timed_out(self, environ, start_response, body, timeout):
        if body.timed_out or body.expired():
            message = ('The request body did not arrive within %g seconds.'
                       % timeout)
        else:
            # Cut earlier than its deadline: the server is stopping.
            message = 'The request body did not arrive before the server ' \
                      'stopped.'
        return self._fault(environ, start_response, 408, message, close=True)

    def _declared(self, environ, start_response, declared):
        api = na_conf.CONF.api
        limit = self.limit or api.max_request_body_size
        if declared > limit and declared > api.max_discard_body_size:
            # Not worth reading: refused before a byte of it.
            return self._too_large(environ, start_response, limit)
        timeout = api.client_body_timeout
        body = _Body(environ, timeout)
        data = None
        try:
            if declared > limit:
                body.shorten(api.discard_body_timeout)
                body.discard(declared)
            else:
                data = body.read_upto(declared, declared)
        except OSError:
            # The client went away (or the server gave up on it).
            pass
        finally:
            body.done()
        if declared > limit:
            return self._too_large(environ, start_response, limit)
        if data is not None and len(data) == declared:
            self._in_memory(environ, data)
            return self.application(environ, start_response)
        if body.timed_out or body.expired() or body.cut():
            return self._timed_out(environ, start_response, body, timeout)
        return self._fault(environ, start_response, 400,
                           'The request body ended before its '
                           'Content-Length.', close=True)

    def _chunked(self, environ, start_response):
        api = na_conf.CONF.api
        limit = self.limit or api.max_request_body_size
        timeout = api.client_body_timeout
        body = _Body(environ, timeout)
        data = None
        over = malformed = False
        try:
            data = body.read_upto(limit + 1, 65536)
            over = len(data) > limit
            if over:
                # Past the limit: keep reading up to the cap, to answer a
                # client that sends before it reads.
                body.shorten(api.discard_body_timeout)
                cap = api.max_discard_body_size
                if len(data) <= cap:
                    body.discard(cap + 1 - len(data))
        except Exception:  # noqa: B902 - the server's chunk parser
            malformed = True
        finally:
            body.done()
        if over:
            return self._too_large(environ, start_response, limit)
        if body.timed_out or (malformed and (body.expired() or body.cut())):
            return self._timed_out(environ, start_response, body, timeout)
        if malformed:
            # A malformed chunked encoding is the client's error.
            return self._fault(environ, start_response, 400,
                               'Malformed chunked request body.',
                               close=True)
        self._in_memory(environ, data)
        return self.application(environ, start_response)


def body_size_limit_filter_factory(global_conf, **local_conf):
    limit = local_conf.get('max_request_body_size')

    def _filter(app):
        return BodySizeLimit(app, int(limit) if limit else None)
    return _filter
