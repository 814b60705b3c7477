"""The extension framework of the compute API.

An ``ExtensionDescriptor`` names an extension (name, alias, namespace,
updated, description) and lists its resources: ``ResourceExtension`` objects
that pair a route table with a controller.  The ``ExtensionManager`` loads
the descriptors named in ``[api] extensions`` and refuses duplicate aliases.
``ExtensionsController`` serves ``/extensions`` and ``/extensions/{alias}``.

The router (``api/router.py``) serves what the manager loaded; the paste
filter that puts them in front of another compute API application is
``ExtensionMiddleware`` (``api/extension_middleware.py``).
"""

import importlib
import logging
from xml.etree import ElementTree


from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates.policies import hosts as host_rules
from nova_aggregates import policy

LOG = logging.getLogger(__name__)

COMMON_NAMESPACE = 'http://docs.openstack.org/common/api/v1.0'
ATOM_NAMESPACE = 'http://www.w3.org/2005/Atom'


class ResourceExtension:
    """A controller and its routes: ``(path, {method: action_name})``."""

    def __init__(self, routes, controller):
        self.routes = tuple(routes)
        self.controller = controller


class ExtensionDescriptor:
    """Base class; subclasses set the class attributes and a docstring."""

    name = None
    alias = None
    namespace = None
    updated = None

    @property
    def description(self):
        return (self.__doc__ or '').strip().splitlines()[0] \
            if self.__doc__ else ''

    def get_resources(self, services):
        """ResourceExtensions; ``services`` holds the AggregateManager."""
        return []

    def to_dict(self):
        return {'name': self.name, 'alias': self.alias,
                'description': self.description,
                'namespace': self.namespace, 'updated': self.updated,
                'links': []}


class ExtensionManager:
    """Loads descriptors by dotted path, keyed by alias (in load order)."""

    def __init__(self, paths=None):
        self.extensions = {}
        for path in (na_conf.CONF.api.extensions if paths is None else paths):
            self.load(path)

    def load(self, path):
        module_name, _, class_name = path.rpartition('.')
        try:
            descriptor = getattr(importlib.import_module(module_name),
                                 class_name)()
        except (ImportError, AttributeError, ValueError) as exc:
            raise exception.ExtensionError(name=path, reason=exc)
        self.register(descriptor)

    def register(self, descriptor):
        for field in ('name', 'alias', 'namespace', 'updated'):
            if not getattr(descriptor, field, None):
                raise exception.ExtensionError(
                    name=type(descriptor).__name__,
                    reason='descriptor has no %s' % field)
        if descriptor.alias in self.extensions:
            raise exception.ExtensionError(
                name=type(descriptor).__name__,
                reason='alias %s is already registered by %s' % (
                    descriptor.alias,
                    type(self.extensions[descriptor.alias]).__name__))
        self.extensions[descriptor.alias] = descriptor
        LOG.debug('Loaded extension %s', descriptor.alias)

    def subset(self, aliases):
        """A manager of only the extensions ``aliases`` names (in that
        order); ExtensionError for an alias none of ours has."""
        chosen = ExtensionManager(paths=())
        for alias in aliases:
            descriptor = self.extensions.get(alias)
            if descriptor is None:
                raise exception.ExtensionError(
                    name=alias, reason='no loaded extension has this alias '
                    '(loaded: %s)' % ', '.join(self.extensions))
            if alias not in chosen.extensions:
                chosen.register(descriptor)
        return chosen

    def get_resources(self, services):
        resources = []
        for descriptor in self.extensions.values():
            resources.extend(descriptor.get_resources(services))
        return resources


class ExtensionsController:
    """``GET /extensions`` and ``GET /extensions/{alias}``."""

    ROUTES = (
        ('/extensions', {'GET': 'index'}),
        ('/extensions/{alias}', {'GET': 'show'}),
    )

    def __init__(self, ext_mgr):
        self.ext_mgr = ext_mgr

    def index(self, req):
        policy.authorize(req.context, host_rules.EXTENSIONS)
        exts = list(self.ext_mgr.extensions.values())
        if req.wants_xml:
            return self.xml_listing(self.xml_extension(ext) for ext in exts)
        return {'extensions': [ext.to_dict() for ext in exts]}

    def show(self, req, alias):
        policy.authorize(req.context, host_rules.EXTENSIONS)
        ext = self.ext_mgr.extensions.get(alias)
        if ext is None:
            raise faults.APIError(404, 'Extension %s could not be found.'
                                  % wsgi.printable_for_message(alias))
        if req.wants_xml:
            root = self.xml_extension(ext)
            root.set('xmlns:atom', ATOM_NAMESPACE)
            return _xml_response(root)
        return {'extension': ext.to_dict()}

    @staticmethod
    def xml_listing(elements):
        """An XML listing response of ``<extension>`` elements."""
        root = ElementTree.Element('extensions',
                                   {'xmlns:atom': ATOM_NAMESPACE})
        root.extend(elements)
        return _xml_response(root)

    @staticmethod
    def xml_extension(ext):
        node = ElementTree.Element('extension', {
            'name': ext.name, 'namespace': ext.namespace,
            'alias': ext.alias, 'updated': ext.updated})
        ElementTree.SubElement(node, 'description').text = ext.description
        return node


def _xml_response(root):
    return wsgi.xml_response(wsgi.xml_element_document(root,
                                                       COMMON_NAMESPACE))
