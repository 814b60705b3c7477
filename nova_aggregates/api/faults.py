"""Faults: the one place where errors become HTTP responses.

``fault_for_exception`` is the one mapping of an exception to its fault:
``APIError`` and ``wsgi.BodyError`` carry their own status, the typed
exceptions of ``nova_aggregates.exception`` get theirs from
``STATUS_BY_CATEGORY``, a database outage is a 503 and anything else a 500
computeFault without details.  ``FAULT_NAMES`` names the fault body of each
status as the compute API does.  The layers that catch (``FaultWrapper``,
the last line of the pipeline, and the router for its own resources) all
answer through it.
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
    408: 'requestTimeout', 409: 'conflictingRequest',
    412: 'preconditionFailed', 413: 'overLimit',
    415: 'badMediaType',
    502: 'computeFault', 503: 'serviceUnavailable', 504: 'computeFault',
}

# Most specific first: the first matching category wins.
STATUS_BY_CATEGORY = (
    (exception.HypervisorUnreachable, 502),
    (exception.HypervisorTimeout, 504),
    (exception.BadGateway, 502),
    (exception.ServiceUnavailable, 503),
    (exception.Invalid, 400),
    (exception.Forbidden, 403),
    (exception.NotFound, 404),
    (exception.Conflict, 409),
    (exception.PreconditionFailed, 412),
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


#: The exceptions a resource raises on purpose: the router answers these
#: itself; anything else goes on to the FaultWrapper.
API_FAULTS = (APIError, wsgi.BodyError, exception.AggregatesException)


def fault_response(status, message, xml=False, headers=None):
    name = FAULT_NAMES.get(status, 'computeFault')
    if xml:
        response = wsgi.xml_response(
            wsgi.xml_fault(name, status, message, XML_NAMESPACE), status)
    else:
        response = wsgi.json_response(
            {name: {'code': status, 'message': message}}, status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def fault_for_exception(exc, req, xml=False):
    """The fault response for ``exc``, raised while answering ``req``."""
    if isinstance(exc, (APIError, wsgi.BodyError)):
        return fault_response(exc.status, exc.message, xml,
                              getattr(exc, 'headers', None))
    status = status_for(exc)
    if status is not None:
        return fault_response(status, str(exc), xml)
    if _is_db_unavailable(exc):
        LOG.warning('Database unavailable: %s', exc)
        return fault_response(
            503, 'The database is unavailable; try again shortly.', xml)
    LOG.exception('Unexpected error on %s %s', req.method, req.path)
    return fault_response(
        500, 'The server has either erred or is incapable of '
             'performing the requested operation.', xml)


class FaultWrapper:
    """Turns any exception that escaped the app into a fault response."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        try:
            return self.application(environ, start_response)
        except Exception as exc:  # noqa: B902 - the safety net
            req = webob.Request(environ)
            response = fault_for_exception(exc, req, wsgi.wants_xml(req))
            return response(environ, start_response)


def _is_db_unavailable(exc):
    from oslo_db import exception as db_exc
    return isinstance(exc, (db_exc.DBConnectionError, db_exc.DBDeadlock,
                            db_exc.CantStartEngineError))


def fault_wrapper_filter_factory(global_conf, **local_conf):
    return FaultWrapper
