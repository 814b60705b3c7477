"""ExtensionMiddleware: our extensions in front of another compute API.

The paste filter ``extensions`` (``extension_middleware_factory``; the
operator guide's "Deploying into an existing api-paste.ini pipeline").  A
request for one of our resources is answered by an ``APIRouter`` of the
surface; everything else (the root of the surface included) goes, untouched,
to the application behind the filter.  Two of our routes are shared with
that application:

- ``GET /extensions`` (JSON) is the application's listing with our
  extensions added (``merge_extension_listing``); when the application has
  no JSON listing to give, ours alone;
- ``GET /extensions/{alias}`` of an alias we do not serve is the
  application's to answer.

Both happen after our checks (method, caller, project of the URL,
microversion), as for any of our resources.
"""

import json
import os

import webob.dec

from nova_aggregates.api import router
from nova_aggregates.api import wsgi
from nova_aggregates import service


class ExtensionMiddleware:
    """Serves our resources (through ``self.router``) and passes the rest
    to ``application``."""

    def __init__(self, application, surface=router.LEGACY, ext_mgr=None,
                 services=None):
        self.application = application
        self.router = router.APIRouter(surface, ext_mgr=ext_mgr,
                                       services=services)

    @webob.dec.wsgify(RequestClass=router.APIRequest)
    def __call__(self, req):
        route = None if req.path_info in ('', '/') else self.router.match(req)
        if route is None:
            return req.get_response(self.application)
        return self.router.respond(req, route, self._dispatch)

    def _dispatch(self, req, route, action):
        if route.controller is self.router.extensions_controller:
            if action == 'index' and not req.wants_xml:
                return self._merged_listing(req, route)
            ours = self.router.ext_mgr.extensions
            if action == 'show' and route.params['alias'] not in ours:
                # Not ours: perhaps the application's own extension.
                return req.get_response(self.application)
        return self.router.dispatch(req, route, action)

    def _merged_listing(self, req, route):
        downstream = req.get_response(self.application)
        if downstream.status_int == 200 and \
                downstream.content_type == 'application/json':
            return merge_extension_listing(downstream, self.router.ext_mgr)
        return self.router.dispatch(req, route, 'index')


def merge_extension_listing(response, ext_mgr):
    """Add our extensions to a JSON listing answered by another application
    (the response as it was when it is no listing)."""
    try:
        body = json.loads(response.body)
        listed = body['extensions']
        known = {ext.get('alias') for ext in listed}
    except (ValueError, KeyError, TypeError, AttributeError):
        return response
    for alias, descriptor in ext_mgr.extensions.items():
        if alias not in known:
            listed.append(descriptor.to_dict())
    return wsgi.json_response(body, response.status_int)


def extension_middleware_factory(global_conf, **local_conf):
    """Paste filter: ``surface`` is ``legacy`` (default) or ``v2.1``;
    ``config_file`` (comma-separated) names our configuration when the
    pipeline runs in another service's process (else the
    ``NOVA_AGGREGATES_CONFIG_FILES`` environment variable)."""
    surface = local_conf.get('surface', router.LEGACY)
    files = local_conf.get('config_file') or \
        os.environ.get('NOVA_AGGREGATES_CONFIG_FILES', '')
    service.load_config([f.strip() for f in files.split(',') if f.strip()])

    def _filter(app):
        return ExtensionMiddleware(app, surface)
    return _filter
