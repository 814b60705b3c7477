"""ExtensionMiddleware: our extensions in front of another compute API.

The paste filter ``extensions`` (``extension_middleware_factory``; the
operator guide's "Adding os-aggregates to Nova").  It serves the extensions
its paste option ``extensions`` names (default ``os-aggregates``; add
``os-hosts``/``os-services`` only when those should be ours, not the
application's) and passes every other request, untouched and not
authenticated by us, to the application behind it (the root of the surface
included).  For its own resources it:

- authenticates the caller itself by ``[api] auth_strategy`` (our
  ``keystone`` strategy trusts only what keystonemiddleware's auth_token,
  earlier in the host's pipeline, set), unless an auth filter of ours
  before it already did;
- accepts microversions up to the application's maximum
  (``host_app.MicroversionCeiling``), served with the semantics of the
  highest one we implement that is not above the request, the request's
  echoed;
- gives the managers, through the request's context, a way to ask the
  application for its compute services (``[compute] host_source =
  host_app``).

Two routes are shared with the application:

- ``GET /extensions`` (JSON, or XML where the application answers XML) is
  the application's listing in which our entries replace those of the same
  alias (``merge_extension_listing``, ``merge_xml_extension_listing``);
  ours alone when the application has no listing to give;
- ``GET /extensions/{alias}`` of an alias we do not serve is the
  application's to answer.
"""

import functools
import json
import os

from defusedxml import ElementTree as safe_etree
import webob.dec

from nova_aggregates.api import auth
from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api import host_app
from nova_aggregates.api import router
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates import service

#: What the filter serves unless its paste option ``extensions`` says.
DEFAULT_ALIASES = ('os-aggregates',)

CONFIG_FILES_ENVIRON = 'NOVA_AGGREGATES_CONFIG_FILES'


class ExtensionMiddleware:
    """Serves our resources (through ``self.router``) and passes the rest
    to ``application``.

    ``aliases`` picks the extensions served among those loaded (``[api]
    extensions``); None serves them all.
    """

    def __init__(self, application, surface=router.LEGACY, ext_mgr=None,
                 services=None, aliases=None, conf=None):
        self.application = application
        self.conf = conf or na_conf.CONF
        ext_mgr = ext_mgr or extension_framework.ExtensionManager()
        if aliases is not None:
            ext_mgr = ext_mgr.subset(aliases)
        self.router = router.APIRouter(surface, ext_mgr=ext_mgr,
                                       services=services)
        self.ceiling = host_app.MicroversionCeiling(
            application, self.conf.api.filter_max_microversion)

    @webob.dec.wsgify(RequestClass=router.APIRequest)
    def __call__(self, req):
        route = None if req.path_info in ('', '/') else self.router.match(req)
        if route is None:
            return req.get_response(self.application)
        ctx = req.environ.get(wsgi.ENVIRON_CONTEXT)
        if ctx is None:
            ctx = auth.authenticate(self.conf.api.auth_strategy, req.environ)
            if isinstance(ctx, str):
                return faults.fault_response(401, ctx, req.wants_xml)
            req.environ[wsgi.ENVIRON_CONTEXT] = ctx
        # The legacy surface's URLs all carry the project; v2.1 needs none.
        prefix = '/' + ctx.project_id if self.router.surface == router.LEGACY \
            else ''
        ctx.host_app_services = functools.partial(
            host_app.compute_services, self.application, req.environ, prefix)
        ceiling = functools.partial(self.ceiling.get, req.environ)
        return self.router.respond(req, route, self._dispatch, ceiling)

    def _dispatch(self, req, route, action):
        if route.controller is self.router.extensions_controller:
            if action == 'index':
                return self._merged_listing(req, route)
            ours = self.router.ext_mgr.extensions
            if action == 'show' and route.params['alias'] not in ours:
                # Not ours: perhaps the application's own extension.
                return req.get_response(self.application)
        return self.router.dispatch(req, route, action)

    def _merged_listing(self, req, route):
        downstream = req.get_response(self.application)
        merged = None
        if downstream.status_int == 200:
            if req.wants_xml and downstream.content_type in (
                    'application/xml', 'text/xml'):
                merged = merge_xml_extension_listing(downstream,
                                                     self.router.ext_mgr)
            elif not req.wants_xml and \
                    downstream.content_type == 'application/json':
                merged = merge_extension_listing(downstream,
                                                 self.router.ext_mgr)
        if merged is None:
            return self.router.dispatch(req, route, 'index')
        return merged


def merge_extension_listing(response, ext_mgr):
    """The JSON listing of another application with our extensions in it,
    ours replacing its entries of the same alias; None when the response
    is no listing."""
    try:
        listed = json.loads(response.body)['extensions']
        aliases = [ext.get('alias') for ext in listed]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    ours = ext_mgr.extensions
    merged = [ours[alias].to_dict() if alias in ours else ext
              for alias, ext in zip(aliases, listed)]
    merged.extend(descriptor.to_dict() for alias, descriptor in ours.items()
                  if alias not in aliases)
    return wsgi.json_response({'extensions': merged}, response.status_int)


_COMMON = '{%s}' % extension_framework.COMMON_NAMESPACE
_ATOM = '{%s}' % extension_framework.ATOM_NAMESPACE


def merge_xml_extension_listing(response, ext_mgr):
    """As ``merge_extension_listing``, for a 2012 XML listing; None when the
    response is no listing (or not well-formed XML)."""
    try:
        root = safe_etree.fromstring(response.body)
    except Exception:  # defusedxml refusals and parse errors alike
        return None
    if _local_name(root.tag) != 'extensions':
        return None
    ours = ext_mgr.extensions
    elements, seen = [], set()
    for child in root:
        alias = child.get('alias')
        if _local_name(child.tag) == 'extension' and alias in ours:
            seen.add(alias)
            elements.append(extension_framework.ExtensionsController
                            .xml_extension(ours[alias]))
        else:
            elements.append(_in_listing_namespaces(child))
    elements.extend(
        extension_framework.ExtensionsController.xml_extension(descriptor)
        for alias, descriptor in ours.items() if alias not in seen)
    return extension_framework.ExtensionsController.xml_listing(elements)


def _local_name(tag):
    return tag.rpartition('}')[2] if isinstance(tag, str) else ''


def _in_listing_namespaces(element):
    """``element`` with the listing's namespaces as our document declares
    them (default: the common namespace; ``atom:``), so it serializes
    without invented prefixes."""
    for node in element.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith(_COMMON):
            node.tag = node.tag[len(_COMMON):]
        elif node.tag.startswith(_ATOM):
            node.tag = 'atom:' + node.tag[len(_ATOM):]
    return element


def _config_files(local_conf):
    """Our configuration files named by the filter's paste option
    ``config_file`` or else the environment, and where they came from."""
    if local_conf.get('config_file'):
        files, source = local_conf['config_file'], 'paste option config_file'
    else:
        files = os.environ.get(CONFIG_FILES_ENVIRON, '')
        source = 'environment variable ' + CONFIG_FILES_ENVIRON
    return [f.strip() for f in files.split(',') if f.strip()], source


def extension_middleware_factory(global_conf, **local_conf):
    """Paste filter.  Options: ``surface``, ``legacy`` (default) or
    ``v2.1``; ``extensions``, the aliases served (space or comma separated,
    default ``os-aggregates``); ``config_file`` (comma-separated), our
    configuration, else the ``NOVA_AGGREGATES_CONFIG_FILES`` environment
    variable.  Refuses to start (ConfigurationError, ExtensionError) rather
    than serve with another configuration than the one named."""
    surface = local_conf.get('surface', router.LEGACY)
    if surface not in (router.LEGACY, router.V21):
        raise exception.ConfigurationError(reason=(
            'surface = %s in the extensions filter: use %s or %s' % (
                surface, router.LEGACY, router.V21)))
    aliases = local_conf.get('extensions', ' '.join(DEFAULT_ALIASES)) \
        .replace(',', ' ').split()
    conf = service.load_config(*_config_files(local_conf))
    services = service.get_services(conf)

    def _filter(app):
        return ExtensionMiddleware(app, surface, services=services,
                                   aliases=aliases, conf=conf)
    return _filter
