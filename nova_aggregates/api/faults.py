"""Faults: the one place where errors become HTTP responses.

``STATUS_BY_CATEGORY`` maps the typed exceptions of
``nova_aggregates.exception`` to status codes; ``FAULT_NAMES`` names the
fault body of each status as the compute API does.  ``FaultWrapper`` is the
last line: anything unexpected becomes a 500 computeFault without details.
"""

import logging

import webob
import webob.dec

from nova_aggregates.api import wsgi
from nova_aggregates import exception

LOG = logging.getLogger(__name__)

FAULT_NAMES = {
    400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
    404: 'itemNotFound', 405: 'badMethod', 406: 'notAcceptable',
    408: 'requestTimeout', 409: 'conflictingRequest', 413: 'overLimit',
    415: 'badMediaType',
    502: 'computeFault', 503: 'serviceUnavailable', 504: 'computeFault',
}

# Most specific first: the first matching category wins.
STATUS_BY_CATEGORY = (
    (exception.HypervisorUnreachable, 502),
    (exception.HypervisorTimeout, 504),
    (exception.ServiceUnavailable, 503),
    (exception.Invalid, 400),
    (exception.Forbidden, 403),
    (exception.NotFound, 404),
    (exception.Conflict, 409),
)

XML_NAMESPACE = 'http://docs.openstack.org/compute/api/v1.1'


class APIError(Exception):
    """Raised by the API layer for a fault it decides itself."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def status_for(exc):
    for category, status in STATUS_BY_CATEGORY:
        if isinstance(exc, category):
            return status
    return None


def fault_response(status, message, xml=False, headers=None):
    name = FAULT_NAMES.get(status, 'computeFault')
    if xml:
        body = wsgi.xml_fault(name, status, message, XML_NAMESPACE)
        response = webob.Response(body=body, status=status,
                                  content_type='application/xml',
                                  charset='UTF-8')
    else:
        response = wsgi.json_response(
            {name: {'code': status, 'message': message}}, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def response_for_exception(exc, xml=False):
    """The fault for an exception, or None if it is not ours to answer."""
    if isinstance(exc, APIError):
        return fault_response(exc.status, exc.message, xml, exc.headers)
    if isinstance(exc, exception.AggregatesException):
        status = status_for(exc)
        if status is not None:
            return fault_response(status, str(exc), xml)
    return None


class FaultWrapper:
    """Turns any exception that escaped the app into a fault response."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            return self.application(environ, start_response)
        except Exception as exc:  # noqa: B902 - the safety net
            req = webob.Request(environ)
            return self._fault(req, exc)(environ, start_response)

    @staticmethod
    def _fault(req, exc):
        xml = wsgi.wants_xml(req)
        response = response_for_exception(exc, xml)
        if response is not None:
            return response
        if _is_db_unavailable(exc):
            LOG.warning('Database unavailable: %s', exc)
            return fault_response(
                503, 'The database is unavailable; try again shortly.', xml)
        LOG.exception('Unexpected error on %s %s', req.method, req.path)
        return fault_response(
            500, 'The server has either erred or is incapable of '
                 'performing the requested operation.', xml)


def _is_db_unavailable(exc):
    from oslo_db import exception as db_exc
    return isinstance(exc, (db_exc.DBConnectionError, db_exc.DBDeadlock,
                            db_exc.CantStartEngineError))


def fault_wrapper_filter_factory(global_conf, **local_conf):
    return FaultWrapper
