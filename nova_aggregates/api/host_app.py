"""In-process requests to the compute API behind the ``extensions`` filter.

The filter asks that application two things, always as the caller of the
request being served (a copy of its environ, so the application's own
authentication and policy apply) and never through the network:

* its version document (``GET /``), for the highest microversion clients
  may ask of our resources (``MicroversionCeiling``);
* its compute services (``GET os-services?binary=nova-compute``), the
  hosts aggregates may hold with ``[compute] host_source = host_app``
  (``compute_services``).
"""

import io
import json
import logging
import re
import threading

import webob

from nova_aggregates.api import microversion
from nova_aggregates import exception

LOG = logging.getLogger(__name__)

#: Headers of the caller's request that are not passed to a sub-request:
#: its body's and its microversion's (sub-requests ask the base version).
_DROPPED = ('CONTENT_TYPE', 'CONTENT_LENGTH', 'HTTP_TRANSFER_ENCODING',
            'HTTP_OPENSTACK_API_VERSION', 'HTTP_X_OPENSTACK_NOVA_API_VERSION',
            'HTTP_IF_MATCH', 'HTTP_IF_NONE_MATCH')
#: Our own environ keys and webob's caches of the caller's request.
_PRIVATE_PREFIXES = ('nova_aggregates.', 'webob.')

_VERSION_RE = re.compile(r'^([1-9]\d*)\.(\d+)$')


def get(application, environ, path, query=''):
    """``GET path?query`` of ``application`` as the caller of ``environ``:
    the response's status and its JSON body (None when it has none)."""
    sub = {key: value for key, value in environ.items()
           if key not in _DROPPED and not key.startswith(_PRIVATE_PREFIXES)}
    sub.update({'REQUEST_METHOD': 'GET', 'PATH_INFO': path,
                'QUERY_STRING': query, 'HTTP_ACCEPT': 'application/json',
                'wsgi.input': io.BytesIO(b'')})
    response = webob.Request(sub).get_response(application)
    try:
        body = json.loads(response.body) if response.body else None
    except ValueError:
        body = None
    return response.status_int, body


def compute_services(application, environ, prefix=''):
    """The application's nova-compute services (dicts with ``host``,
    ``zone``, ``status``, ...); HostInventoryUnavailable when it does not
    list them."""
    status, body = get(application, environ, prefix + '/os-services',
                       'binary=nova-compute')
    services = body.get('services') if isinstance(body, dict) else None
    if status != 200 or not isinstance(services, list):
        raise exception.HostInventoryUnavailable(reason=(
            'GET os-services?binary=nova-compute answered HTTP %d%s' % (
                status, '' if status != 200 else ' without a services list')))
    return [s for s in services if isinstance(s, dict)]


class MicroversionCeiling:
    """The highest microversion accepted for our resources: ``[api]
    filter_max_microversion`` if set, else the maximum in the version
    document of the application behind the filter, read once (ours when it
    has none, e.g. an application without microversions)."""

    def __init__(self, application, configured=None):
        self.application = application
        self._lock = threading.Lock()
        self._version = _parse(configured) if configured else None

    def get(self, environ):
        if self._version is None:
            found = self._read(environ)
            with self._lock:
                if self._version is None:
                    self._version = found
        return self._version

    def _read(self, environ):
        try:
            status, body = get(self.application, environ, '/')
            found = _parse(body['version']['version']) if status == 200 \
                else None
        except (KeyError, TypeError, ValueError):
            found = None
        if found is None:
            LOG.warning('The application behind the extensions filter '
                        'names no maximum microversion in its version '
                        'document: accepting up to ours, %s (set [api] '
                        'filter_max_microversion to choose).',
                        microversion.to_string(microversion.MAX_VERSION))
            return microversion.MAX_VERSION
        # Never below ours: our own versions are always served.
        return max(found, microversion.MAX_VERSION)


def _parse(text):
    match = _VERSION_RE.match(text or '')
    if match is None:
        raise ValueError('not a microversion: %r' % (text,))
    return int(match.group(1)), int(match.group(2))
