"""Paste composites: URL prefix map, and the pipeline chosen by
``[api] auth_strategy``."""

import webob.dec

from nova_aggregates.api import faults
from nova_aggregates.api import middleware
from nova_aggregates import conf as na_conf


class URLMap:
    """Dispatch on the longest matching path prefix (``/v2`` never catches
    ``/v2.1``)."""

    def __init__(self, apps):
        self.apps = sorted(apps.items(), key=lambda item: -len(item[0]))

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '') or '/'
        for prefix, app in self.apps:
            if prefix == '/' or path == prefix or \
                    path.startswith(prefix + '/'):
                if prefix != '/':
                    environ['SCRIPT_NAME'] = environ.get('SCRIPT_NAME', '') \
                        + prefix
                    environ['PATH_INFO'] = path[len(prefix):]
                return app(environ, start_response)
        return _not_found(environ, start_response)


@webob.dec.wsgify
def _unknown_url(req):
    return faults.fault_response(404, 'Unknown URL.')


# No surface's pipeline answers here: the fault gets their request id
# headers from a filter of its own.
_not_found = middleware.RequestId(_unknown_url)


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
