"""Small WSGI filters of the pipeline: request id, request log, body limit.

They are plain WSGI callables: a filter that wrapped every request in webob
objects would cost more than the handlers behind it.  webob is used on the
error paths only.
"""

import logging
import re
import time
import uuid

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
        req_id = 'req-%s' % uuid.uuid4()
        environ[ENV_REQUEST_ID] = req_id
        inbound = environ.get('HTTP_X_OPENSTACK_REQUEST_ID')
        if inbound and _GLOBAL_ID.match(inbound):
            environ[ENV_GLOBAL_REQUEST_ID] = inbound
        return self.application(environ, add_headers(start_response, [
            ('x-openstack-request-id', req_id),
            ('x-compute-request-id', req_id)]))


def request_id_filter_factory(global_conf, **local_conf):
    return RequestId


class RequestLog:
    """One log line per request: id, method, path, status, duration."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        req_id = environ.get(ENV_REQUEST_ID, '-')
        # Log lines of this request must not carry the identity of the
        # previous one on this thread; auth replaces this context.
        context.RequestContext(request_id=req_id, overwrite=True)
        status = []

        def _start_response(status_line, headers, exc_info=None):
            status.append(status_line.split(' ', 1)[0])
            return start_response(status_line, headers, exc_info)

        result = self.application(environ, _start_response)
        path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
        if environ.get('QUERY_STRING'):
            path += '?' + environ['QUERY_STRING']
        LOG.info('%s "%s %s" status: %s time: %.4f', req_id,
                 environ.get('REQUEST_METHOD'), path,
                 status[0] if status else '-', time.perf_counter() - start)
        return result


def request_log_filter_factory(global_conf, **local_conf):
    return RequestLog


class _LimitedInput:
    """Reads at most ``limit`` bytes; one byte more is a 413."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.left = limit + 1

    def read(self, size=-1):
        if size is None or size < 0 or size > self.left:
            size = self.left
        data = self.stream.read(size)
        self.left -= len(data)
        if self.left <= 0:
            raise _TooLarge()
        return data


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for bodies over ``[api] max_request_body_size``, declared or not."""

    def __init__(self, application, limit=None):
        self.application = application
        self.limit = limit

    def _fault(self, environ, start_response, status, message):
        response = faults.fault_response(
            status, message, wsgi.wants_xml(webob.Request(environ)))
        return response(environ, start_response)

    def __call__(self, environ, start_response):
        limit = self.limit or na_conf.CONF.api.max_request_body_size
        too_large = 'Request body is larger than the limit of %d bytes.' % \
            limit
        length = environ.get('CONTENT_LENGTH')
        if length:
            try:
                declared = int(length)
            except ValueError:
                return self._fault(environ, start_response, 400,
                                   'Invalid Content-Length header.')
            if declared > limit:
                return self._fault(environ, start_response, 413, too_large)
        elif 'chunked' in environ.get('HTTP_TRANSFER_ENCODING', '').lower():
            # Chunked: read it here, within the limit.
            req = webob.Request(environ)
            if req.is_body_readable:
                limited = _LimitedInput(req.body_file_raw, limit)
                try:
                    body = b''.join(iter(lambda: limited.read(65536), b''))
                except _TooLarge:
                    return self._fault(environ, start_response, 413,
                                       too_large)
                except Exception:  # noqa: B902 - the server's chunk parser
                    # A malformed chunked encoding is the client's error.
                    return self._fault(environ, start_response, 400,
                                       'Malformed chunked request body.')
                req.body = body
        return self.application(environ, start_response)


def body_size_limit_filter_factory(global_conf, **local_conf):
    limit = local_conf.get('max_request_body_size')

    def _filter(app):
        return BodySizeLimit(app, int(limit) if limit else None)
    return _filter
