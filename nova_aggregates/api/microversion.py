"""Microversions of the v2.1 surface.

``OpenStack-API-Version: compute X.Y`` or ``X-OpenStack-Nova-API-Version:
X.Y`` (``latest`` allowed) pick the version; without either it is 2.1.  Every
response of the surface, faults included, names the version it used.

In front of another compute API (the ``extensions`` filter), the versions
accepted for our resources reach that application's maximum (clients
negotiate against its version document: the openstack CLI asks 2.81 and
more for aggregates).  The request is then served with the semantics of the
highest version we implement that is not above it (``semantics``), and the
version asked for is the one echoed.
"""

import re

import webob

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi

MIN_VERSION = (2, 1)
#: 2.41: aggregate bodies carry ``uuid``.
MAX_VERSION = (2, 41)
UUID_IN_AGGREGATES = (2, 41)

_VERSION_RE = re.compile(r'^([1-9]\d{0,3})\.(0|[1-9]\d{0,3})$')


def to_string(version):
    return '%d.%d' % version


def _requested(environ):
    """The version text the request asks for, or None: read from the
    WSGI environ itself (a webob view of its headers costs a poll a
    twentieth of its time)."""
    value = environ.get('HTTP_OPENSTACK_API_VERSION')
    if value is not None:
        # "compute 2.5, image 2.1": pick our service's entry.
        for part in value.split(','):
            words = part.strip().split()
            if words and words[0].lower() == 'compute':
                # "compute" alone or with extra words is malformed.
                return words[1] if len(words) == 2 else part.strip()
    return environ.get('HTTP_X_OPENSTACK_NOVA_API_VERSION')


def parse(environ, ceiling=None):
    """Return the version tuple a request (its WSGI ``environ``) asks for,
    or raise faults.APIError
    (400/406).  ``ceiling`` (a callable) gives the highest version accepted
    when it is not ours; it is called only for ``latest`` or a version
    above ours.

    A 406 echoes the version that was asked for (well formed, out of
    range); a 400 echoes none: no response names a version it did not
    serve.
    """
    text = _requested(environ)
    if text is None:
        return MIN_VERSION
    text = text.strip()
    if text.lower() == 'latest':
        return ceiling() if ceiling else MAX_VERSION
    match = _VERSION_RE.match(text)
    if not match:
        raise faults.APIError(
            400, 'API version string %s is not valid; use the form X.Y or '
                 '"latest".' % wsgi.printable_for_message(text))
    version = (int(match.group(1)), int(match.group(2)))
    max_version = ceiling() if ceiling and version > MAX_VERSION \
        else MAX_VERSION
    if not MIN_VERSION <= version <= max_version:
        raise faults.APIError(
            406, 'Version %s is not supported by the API. Minimum is %s and '
                 'maximum is %s.' % (to_string(version),
                                     to_string(MIN_VERSION),
                                     to_string(max_version)),
            headers=dict(echo_headers(version)))
    return version


def semantics(version):
    """The version whose behaviour serves a request for ``version``: the
    highest we implement that is not above it."""
    return min(version, MAX_VERSION)


def negotiate(environ, ceiling=None):
    """Pick the version of a v2.1 request, once per pipeline.

    ``ceiling`` as for ``parse`` (default: ours is the highest); handlers see
    ``semantics`` of the request's version.  Returns the version asked for
    when this call picked it (the caller echoes it on the response),
    ``None`` when a layer outside already had (that layer echoes it).
    Raises ``faults.APIError`` for a refused header, as ``parse``.
    """
    if wsgi.ENVIRON_VERSION in environ:
        return None
    requested = parse(environ, ceiling)
    environ[wsgi.ENVIRON_VERSION] = semantics(requested)
    environ[wsgi.ENVIRON_REQUESTED_VERSION] = requested
    return requested


def echo_headers(version):
    """The response headers naming ``version`` (a new list)."""
    headers = _echoed.get(version)
    if headers is None:
        text = to_string(version)
        headers = (
            ('OpenStack-API-Version', 'compute ' + text),
            ('X-OpenStack-Nova-API-Version', text),
            ('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version'))
        if len(_echoed) < _ECHOED_KEPT:
            _echoed[version] = headers
    return list(headers)


#: version -> its echo_headers, for the first _ECHOED_KEPT versions seen:
#: the versions served are few, but a 406 echoes any well-formed one.
_echoed = {}
_ECHOED_KEPT = 128


#: The names of ``echo_headers``, lower case.
_ECHOED = frozenset(name.lower() for name, _ in echo_headers(MIN_VERSION))


def echo(response, version):
    for name, value in echo_headers(version):
        response.headers[name] = value
    return response


class MicroversionMiddleware:
    """Parses the requested version and echoes it on every response."""

    def __init__(self, application):
        # Errors become faults here, inside the echo: faults carry the
        # version headers too.
        self.application = faults.FaultWrapper(application)

    def __call__(self, environ, start_response):
        try:
            version = negotiate(environ)
        except faults.APIError as exc:
            response = faults.fault_for_exception(exc, webob.Request(environ))
            return response(environ, start_response)
        if version is None:
            return self.application(environ, start_response)
        headers = echo_headers(version)

        def _start_response(status, response_headers, exc_info=None):
            response_headers[:] = [h for h in response_headers
                                   if h[0].lower() not in _ECHOED] + headers
            return start_response(status, response_headers, exc_info)

        return self.application(environ, _start_response)


def microversion_filter_factory(global_conf, **local_conf):
    return MicroversionMiddleware
