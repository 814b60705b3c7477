"""The names published under ``nova_aggregates.api.extensions``.

Operators' paste files name the extension filter
``nova_aggregates.api.extensions:extension_middleware_factory``, and
extension descriptors written elsewhere subclass
``nova_aggregates.api.extensions.ExtensionDescriptor``; both keep working
from here.  The code lives in ``extension_framework`` (descriptors,
resources, the manager, the ``/extensions`` controller) and
``extension_middleware`` (the filter); code of this package imports those.
"""

from nova_aggregates.api.extension_framework import ExtensionDescriptor
from nova_aggregates.api.extension_framework import ExtensionManager
from nova_aggregates.api.extension_framework import ExtensionsController
from nova_aggregates.api.extension_framework import ResourceExtension
from nova_aggregates.api.extension_middleware import \
    extension_middleware_factory
from nova_aggregates.api.extension_middleware import ExtensionMiddleware

__all__ = ['ExtensionDescriptor', 'ExtensionManager', 'ExtensionMiddleware',
           'ExtensionsController', 'ResourceExtension',
           'extension_middleware_factory']
