"""APIRouter: the route table of one API surface, and dispatch.

Every URL the service answers, below ``/v1.1/{project_id}``,
``/v2/{project_id}`` (the legacy surface) and ``/v2.1[/{project_id}]``:

==========================================  =======  ======================
path                                        method   handler
==========================================  =======  ======================
(root of the surface)                       GET      version document
/extensions                                 GET      ExtensionsController.index
/extensions/{alias}                         GET      ExtensionsController.show
/os-aggregates                              GET      AggregatesController.index
/os-aggregates                              POST     AggregatesController.create
/os-aggregates/{id}                         GET      AggregatesController.show
/os-aggregates/{id}                         PUT      AggregatesController.update
/os-aggregates/{id}                         DELETE   AggregatesController.delete
/os-aggregates/{id}/action                  POST     AggregatesController.action
/os-hosts                                   GET      HostsController.index
/os-hosts/{host_name}                       GET      HostsController.show
/os-hosts/{host_name}                       PUT      HostsController.update
/os-services                                GET      ServicesController.index
/os-services/{service_id}                   PUT      ServicesController.update
/os-host-matching                           POST     HostMatchingController.create
/os-rolling-maintenance                     GET      RollingMaintenanceController.index
/os-rolling-maintenance                     POST     RollingMaintenanceController.create
/os-rolling-maintenance/{id}                GET      RollingMaintenanceController.show
/os-rolling-maintenance/{id}                DELETE   RollingMaintenanceController.delete
/os-rolling-maintenance/{id}/action         POST     RollingMaintenanceController.action
==========================================  =======  ======================

``GET os-aggregates`` takes the filters ``?host=`` and
``?availability_zone=``.  ``PUT os-services/{service_id}`` also serves the
2.1 actions ``enable``, ``disable`` and ``disable-log-reason`` in place of
an id.  The extension
rows come from the descriptors the ExtensionManager loaded
(``api/contrib``); each declares its rows in a ``ROUTES`` tuple next to its
handlers.  A known path with another method is a 405; anything else a 404.
The legacy surface also takes a ``.json``/``.xml`` suffix.
"""

import logging

import routes
import webob

from nova_aggregates.api import conditional
from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api import microversion
from nova_aggregates.api import versions
from nova_aggregates.api import wsgi
from nova_aggregates import service

LOG = logging.getLogger(__name__)

LEGACY = 'legacy'
V21 = 'v2.1'

#: Paths whose match the router keeps (a few hundred bytes each).
MATCHES_KEPT = 10000


class APIRequest(webob.Request):
    """A request with what the handlers need already worked out."""

    context = None
    api_version = None
    #: What the client asked for; above ``api_version`` only in front of
    #: another compute API whose maximum is higher than ours.
    requested_version = None
    surface = None
    wants_xml = False

    def is_legacy(self):
        return self.surface == LEGACY


class Route:
    """A request's match in the route table: the controller, its actions
    by method, and the values taken from the path."""

    __slots__ = ('controller', 'methods', 'params')

    def __init__(self, controller, methods, params):
        self.controller = controller
        self.methods = methods
        self.params = params


class APIRouter:
    """The route table of one surface and the dispatch to its handlers.

    ``match`` finds a request's route, ``respond`` answers it (microversion,
    method, caller and project checks, then ``dispatch``, which parses the
    body, calls the handler and renders its result; the faults of whatever
    they raise).  ``ExtensionMiddleware`` serves our resources in front of
    another application through the same three.
    """

    def __init__(self, surface=LEGACY, ext_mgr=None, services=None):
        self.surface = surface
        services = services or service.get_services()
        self.ext_mgr = ext_mgr or extension_framework.ExtensionManager()
        self.extensions_controller = extension_framework.ExtensionsController(
            self.ext_mgr)
        resources = [extension_framework.ResourceExtension(
            extension_framework.ExtensionsController.ROUTES,
            self.extensions_controller)]
        resources.extend(self.ext_mgr.get_resources(services))
        self.mapper = routes.Mapper()
        self.mapper.minimization = False
        # Routes keeps only strings per route; the handlers live here.
        self._handlers = []
        # path -> what _match_path found.
        self._matched = {}
        for resource in resources:
            for path, methods in resource.routes:
                self._connect(path, resource.controller, methods)

    def _connect(self, path, controller, methods):
        key = str(len(self._handlers))
        self._handlers.append((controller, methods))
        prefixes = ['/{project_id}'] if self.surface == LEGACY else \
            ['', '/{project_id}']
        for prefix in prefixes:
            template = prefix + path
            requirements = {}
            if self.surface == LEGACY:
                template += '{.format}'
                requirements['format'] = 'json|xml'
            self.mapper.connect(None, template, requirements=requirements,
                                handler=key)

    def __call__(self, environ, start_response):
        if 'HTTP_IF_NONE_MATCH' in environ and \
                environ.get('REQUEST_METHOD') == 'GET':
            unchanged = self.unchanged(environ)
            if unchanged is not None:
                return unchanged(environ, start_response)
        # Plain WSGI: webob's wsgify would also build a Response per
        # request that no handler uses.
        return self.answer(APIRequest(environ))(environ, start_response)

    def unchanged(self, environ):
        """The 304 of a v2.1 poll (a GET with If-None-Match) whose tag is
        still current, answered from the version alone: a poll costs about
        a hello then, most of the handler's cost being the building of
        the request and response.  None for anything else, which the full
        path answers: the same checks come first (a route, an action for
        GET, the caller of the right project, the microversion already
        negotiated outside), and an error, a 403 or 404 included, is the
        full path's to answer."""
        if self.surface != V21 or wsgi.ENVIRON_VERSION not in environ:
            return None
        handler, _, params = self._found(environ.get('PATH_INFO', ''))
        if handler is None:
            return None
        controller, methods = handler
        action = methods.get('GET')
        current_version = getattr(controller, 'current_version', None)
        ctx = environ.get(wsgi.ENVIRON_CONTEXT)
        if action is None or current_version is None or ctx is None:
            return None
        project_id = params.get('project_id')
        if project_id is not None and project_id != ctx.project_id:
            return None
        try:
            version = current_version(ctx, action, params)
        except Exception:  # noqa: B902 - the full path answers it
            return None
        if version is None:
            return None
        current = conditional.tag(version, conditional.v21_representation(
            environ[wsgi.ENVIRON_VERSION]))
        if not conditional.matches(environ['HTTP_IF_NONE_MATCH'], current):
            return None
        return conditional.not_modified_app(current)

    def answer(self, req):
        """The response to ``req``."""
        if req.path_info in ('', '/'):
            return versions.surface_response(
                req, 'v2.1' if self.surface == V21 else 'v1.1')
        route = self.match(req)
        if route is None:
            return faults.fault_response(404, 'Unknown URL %s.' %
                                         wsgi.printable_for_message(
                                             req.path_info),
                                         self.surface == LEGACY and
                                         wsgi.wants_xml(req))
        return self.respond(req, route)

    def match(self, req):
        """The route of one of our resources for ``req``, or None.

        Also settles the response format: the filters outside (fault
        wrapper) answer in it too.
        """
        req.surface = self.surface
        handler, fmt, params = self._found(req.path_info)
        if handler is None:
            return None
        req.wants_xml = self._wants_xml(req, fmt)
        req.environ[wsgi.ENVIRON_FORMAT] = 'xml' if req.wants_xml else 'json'
        controller, methods = handler
        return Route(controller, methods, dict(params))

    def _found(self, path):
        """What ``_match_path`` finds for ``path``, kept."""
        found = self._matched.get(path)
        if found is None:
            found = self._match_path(path)
            if len(self._matched) >= MATCHES_KEPT:
                # Cheaper than tracking use; the next requests refill it.
                self._matched.clear()
            self._matched[path] = found
        return found

    def _match_path(self, path):
        """``(handler, format, params)`` of ``path``, handler None if no
        route matches: what ``match`` keeps per path (routes' matching
        is a tenth of a small request, and clients ask for the same paths
        over and over)."""
        match = self.mapper.match(path)
        if match is None:
            return None, None, None
        fmt = match.pop('format', None)
        return self._handlers[int(match.pop('handler'))], fmt, match

    def respond(self, req, route, dispatch=None, ceiling=None):
        """Answer ``req`` for ``route``; ``dispatch`` (default
        ``self.dispatch``) is called with the request, the route and the
        action once the checks passed.  ``ceiling``: a callable giving the
        highest microversion accepted, when not ours (``microversion``)."""
        version = None
        try:
            # In another application's pipeline no microversion filter may
            # have run: our v2.1 resources then negotiate it themselves.
            if self.surface == V21:
                version = microversion.negotiate(req.environ, ceiling)
            action = self._admit(req, route)
            response = (dispatch or self.dispatch)(req, route, action)
        except faults.API_FAULTS as exc:
            response = faults.fault_for_exception(exc, req, req.wants_xml)
        # A request whose version header was refused carries the fault's
        # own headers (the version asked for, or none).
        if version is not None:
            microversion.echo(response, version)
        return response

    def _wants_xml(self, req, fmt):
        if self.surface != LEGACY:
            return False
        if fmt is not None:
            return fmt == 'xml'
        return wsgi.accepts_xml(req)

    @staticmethod
    def _admit(req, route):
        """The action for the request's method, once the caller and the
        project of the URL are known; sets the request's context and
        version."""
        action = route.methods.get(req.method)
        if action is None:
            raise faults.APIError(
                405, 'Method %s is not allowed on %s.' % (
                    req.method,
                    wsgi.printable_for_message(req.path_info)),
                headers={'Allow': ', '.join(sorted(route.methods))})
        req.context = req.environ.get(wsgi.ENVIRON_CONTEXT)
        if req.context is None:
            raise faults.APIError(401, 'Authentication required.')
        project_id = route.params.pop('project_id', None)
        if project_id is not None and project_id != req.context.project_id:
            raise faults.APIError(400, 'Malformed request url')
        req.api_version = req.environ.get(wsgi.ENVIRON_VERSION,
                                          microversion.MIN_VERSION)
        req.requested_version = req.environ.get(
            wsgi.ENVIRON_REQUESTED_VERSION, req.api_version)
        return action

    def dispatch(self, req, route, action):
        """Call the handler with the parsed body; its rendered result."""
        params = route.params
        if req.method in ('POST', 'PUT'):
            params['body'] = wsgi.parse_body(
                req, xml_allowed=self.surface == LEGACY)
        return wsgi.render(req,
                           getattr(route.controller, action)(req, **params))


def app_factory(global_conf, **local_conf):
    """Paste app: ``surface = legacy`` (default) or ``v2.1``."""
    return APIRouter(local_conf.get('surface', LEGACY))
