"""Small WSGI filters of the pipeline: request id, request log, body limit."""

import logging
import time

from oslo_middleware import request_id
import webob.dec

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from nova_aggregates import context

LOG = logging.getLogger('nova_aggregates.api.requests')


class ComputeRequestId(request_id.RequestId):
    """x-openstack-request-id, plus the compute API's x-compute-request-id."""

    compat_headers = ['x-compute-request-id']


def request_id_filter_factory(global_conf, **local_conf):
    def _filter(app):
        return ComputeRequestId(app)
    return _filter


class RequestLog:
    """One log line per request: id, method, path, status, duration."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        start = time.perf_counter()
        # Log lines of this request must not carry the identity of the
        # previous one on this thread; auth replaces this context.
        context.RequestContext(
            request_id=req.environ.get(request_id.ENV_REQUEST_ID),
            overwrite=True)
        response = req.get_response(self.application)
        LOG.info('%s "%s %s" status: %s time: %.4f',
                 req.environ.get(request_id.ENV_REQUEST_ID, '-'), req.method,
                 req.path_qs, response.status_int,
                 time.perf_counter() - start)
        return response


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

    @webob.dec.wsgify
    def __call__(self, req):
        limit = self.limit or na_conf.CONF.api.max_request_body_size
        too_large = faults.fault_response(
            413, 'Request body is larger than the limit of %d bytes.' % limit,
            wsgi.wants_xml(req))
        if req.content_length is not None:
            if req.content_length > limit:
                return too_large
        elif req.is_body_readable:
            # Chunked: read it here, within the limit.
            limited = _LimitedInput(req.body_file_raw, limit)
            try:
                body = b''.join(iter(lambda: limited.read(65536), b''))
            except _TooLarge:
                return too_large
            req.body = body
        return req.get_response(self.application)


def body_size_limit_filter_factory(global_conf, **local_conf):
    limit = local_conf.get('max_request_body_size')

    def _filter(app):
        return BodySizeLimit(app, int(limit) if limit else None)
    return _filter
