"""os-host-matching: which compute hosts an instance could land on by
Nova's own aggregate rules, and why each other host is refused
(api-contract section 15).  The handler parses, authorizes, asks
``aggregates.host_matching.HostMatching`` and renders."""

from nova_aggregates.api import extension_framework
from nova_aggregates.api.schemas import host_matching as schemas
from nova_aggregates.api import validation
from nova_aggregates.api.views import host_matching as views
from nova_aggregates.api import wsgi
from nova_aggregates import policy
from nova_aggregates.policies import host_matching as matching_rules

ROUTES = (
    ('/os-host-matching', {'POST': 'create'}),
)

#: Where the body holds objects, which an empty XML element reads as "".
_OBJECTS = {'request': {'flavor': {'extra_specs': {}},
                        'image': {'properties': {}}}}


def _empty_elements_as_objects(body, objects=_OBJECTS):
    """The 2012 XML form in the JSON shape: ``<image/>`` is ``{}``."""
    if not isinstance(body, dict):
        return body
    result = dict(body)
    for key, inner in objects.items():
        if key not in result:
            continue
        if result[key] == '':
            result[key] = {}
        else:
            result[key] = _empty_elements_as_objects(result[key], inner)
    return result


class HostMatchingController:

    def __init__(self, matcher):
        self.matcher = matcher

    def create(self, req, body):
        policy.authorize(req.context, matching_rules.CREATE)
        if (req.content_type or '').lower() in wsgi.XML_TYPES:
            body = _empty_elements_as_objects(body)
        validation.validate(schemas.MATCH, body, schemas.format_checker)
        request = body['request']
        flavor = dict(request.get('flavor', {}))
        if 'extra_specs' in flavor:
            # Nova's flavor API takes numbers and stores strings.
            flavor['extra_specs'] = {key: str(value) for key, value in
                                     flavor['extra_specs'].items()}
        matched = self.matcher.match(
            req.context, flavor=flavor, image=request.get('image'),
            project_id=request.get('project_id'),
            availability_zone=request.get('availability_zone'))
        if req.wants_xml:
            return views.xml_result(matched)
        return views.result(matched)


class HostMatching(extension_framework.ExtensionDescriptor):
    """Which hosts an instance could land on, by Nova's aggregate rules"""

    name = 'HostMatching'
    alias = 'os-host-matching'
    namespace = 'http://docs.openstack.org/compute/ext/host-matching/api/v2.1'
    updated = '2026-12-01T00:00:00+00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, HostMatchingController(services.host_matching))]
