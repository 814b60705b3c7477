"""Paste composites: URL prefix map, and the pipeline chosen by
``[api] auth_strategy``."""

import urllib.parse

import webob.dec

from nova_aggregates.api import faults
from nova_aggregates.api import middleware
from nova_aggregates import conf as na_conf


class URLMap:
    """Dispatch on the longest matching path prefix (``/v2`` never catches
    ``/v2.1``)."""

    def __init__(self, apps):
        # (prefix, prefix + '/', app), longest first: no string built per
        # request.
        self._prefixes = [(prefix, prefix + '/', app) for prefix, app in
                          sorted(apps.items(), key=lambda item: -len(item[0]))]

    def __call__(self, environ, start_response):
        if not _is_utf8(environ.get('PATH_INFO', '')) or \
                not _is_utf8(environ.get('QUERY_STRING', ''), quoted=True):
            return _bad_url(environ, start_response)
        path = environ.get('PATH_INFO', '') or '/'
        for prefix, below, app in self._prefixes:
            if prefix == '/' or path == prefix or path.startswith(below):
                if prefix != '/':
                    environ['SCRIPT_NAME'] = environ.get('SCRIPT_NAME', '') \
                        + prefix
                    environ['PATH_INFO'] = path[len(prefix):]
                return app(environ, start_response)
        return _not_found(environ, start_response)


def _is_utf8(text, quoted=False):
    # WSGI hands the path over unquoted, as latin-1 text; the query string
    # still percent-encoded.
    if text.isascii() and not (quoted and '%' in text):
        # ASCII is UTF-8 (the usual case: no decoding to pay for).
        return True
    try:
        raw = text.encode('latin-1')
        if quoted:
            raw = urllib.parse.unquote_to_bytes(raw)
        raw.decode('utf-8')
    except UnicodeError:
        return False
    return True


@webob.dec.wsgify
def _unknown_url(req):
    return faults.fault_response(404, 'Unknown URL.')


@webob.dec.wsgify
def _invalid_url(req):
    return faults.fault_response(
        400, 'The URL or its query string is not valid UTF-8.')


# No surface's pipeline answers these: the faults get their request id
# headers from a filter of their own.
_not_found = middleware.RequestId(_unknown_url)
_bad_url = middleware.RequestId(_invalid_url)


def urlmap_factory(loader, global_conf, **local_conf):
    apps = {}
    for path, app_name in local_conf.items():
        path = '/' + path.strip('/') if path.strip('/') else '/'
        apps[path] = loader.get_app(app_name, global_conf=global_conf)
    return URLMap(apps)


def pipeline_factory(loader, global_conf, **local_conf):
    """``noauth2 = ...`` / ``keystone = ...``: build the pipeline named by
    ``[api] auth_strategy``."""
    pipeline = local_conf[na_conf.CONF.api.auth_strategy].split()
    app = loader.get_app(pipeline[-1])
    for name in reversed(pipeline[:-1]):
        app = loader.get_filter(name)(app)
    return app
