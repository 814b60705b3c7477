"""The OS-AGGREGATES extension: handlers parse, authorize, call the
AggregateManager and render; rules live in the manager."""

import re

from nova_aggregates.api import conditional
from nova_aggregates.api import extension_framework
from nova_aggregates.api import faults
from nova_aggregates.api import rendered
from nova_aggregates.api.schemas import aggregates as schemas
from nova_aggregates.api import validation
from nova_aggregates.api.views import aggregates as views
from nova_aggregates.api import wsgi
from nova_aggregates import policy
from nova_aggregates.policies import aggregates as aggregate_rules

_INTEGER = re.compile(r'^-?[0-9]{1,20}$')
_MAX_ID = 2 ** 31 - 1

_ACTIONS = {
    'add_host': schemas.ADD_HOST,
    'remove_host': schemas.REMOVE_HOST,
    'set_metadata': schemas.SET_METADATA,
}

ROUTES = (
    ('/os-aggregates', {'GET': 'index', 'POST': 'create'}),
    ('/os-aggregates/{id}', {'GET': 'show', 'PUT': 'update',
                             'DELETE': 'delete'}),
    ('/os-aggregates/{id}/action', {'POST': 'action'}),
)


def _validate(schema, body):
    validation.validate(schema, body, schemas.format_checker,
                        quick=schemas.QUICK[id(schema)])


def _tagged(req, body, version):
    return wsgi.WithHeaders(body, {'ETag': conditional.etag(req, version)})


class AggregatesController:

    def __init__(self, manager):
        self.manager = manager
        #: JSON of aggregates shown, kept while they do not change.
        self.rendered = rendered.RenderedAggregates(manager)

    @staticmethod
    def _valid_id(value):
        """``value`` (a URL's text) as an aggregate id, or None if it
        cannot be one."""
        if _INTEGER.match(value) and 0 < int(value) <= _MAX_ID:
            return int(value)
        return None

    def _aggregate_id(self, req, value):
        aggregate_id = self._valid_id(value)
        if aggregate_id is not None:
            return aggregate_id
        if not _INTEGER.match(value):
            if req.is_legacy():
                # The 2012 extension simply did not find such an id.
                raise faults.APIError(404, 'Aggregate %s could not be '
                                      'found.' % value[:64])
            raise faults.APIError(400, 'Invalid aggregate id %s: it must be '
                                  'an integer.' % value[:64])
        raise faults.APIError(404, 'Aggregate %s could not be found.'
                              % int(value))

    def current_version(self, context, action, params):
        """The version ``action`` (``index`` or ``show``, of the v2.1
        surface) would answer ``context`` with, from one indexed read, for
        the router's answer to a poll (``router.APIRouter.unchanged``):
        None where the handler itself must answer (an id that is not one,
        a store that tells versions only by reading the aggregates).
        Raises what the handler would (its answer is then the handler's)."""
        if action == 'index':
            policy.authorize(context, aggregate_rules.PREFIX % 'index')
            return self.manager.aggregates_version(context)
        if action == 'show':
            aggregate_id = self._valid_id(params['id'])
            if aggregate_id is None:
                return None
            policy.authorize(context, aggregate_rules.PREFIX % 'show')
            return self.manager.aggregate_version(context, aggregate_id)
        return None

    def index(self, req):
        policy.authorize(req.context, aggregate_rules.PREFIX % 'index')
        if conditional.wants_not_modified(req):
            # One read of one row, where the store can tell.
            unchanged = conditional.not_modified(
                req, self.manager.aggregates_version(req.context))
            if unchanged is not None:
                return unchanged
        # Our server-side filters; other query keys are ignored, as Nova
        # up to microversion 2.101 ignores them.
        host = req.GET.get('host')
        zone = req.GET.get('availability_zone')
        if host is None and zone is None and not req.wants_xml:
            listed = self.rendered.listing(req)
            if listed is not None:
                version, encoded = listed
                return conditional.not_modified(req, version) or \
                    wsgi.encoded_json_response(
                        encoded,
                        headers={'ETag': conditional.etag(req, version)})
        version, listed = self.manager.list_aggregates_versioned(
            req.context, host=host, availability_zone=zone)
        return conditional.not_modified(req, version) or _tagged(
            req, {'aggregates': [views.aggregate(req, agg)
                                 for agg in listed]}, version)

    def create(self, req, body):
        policy.authorize(req.context, aggregate_rules.PREFIX % 'create')
        _validate(schemas.CREATE, body)
        values = body['aggregate']
        agg = self.manager.create_aggregate(
            req.context, values['name'], values.get('availability_zone'))
        return _tagged(req, {'aggregate': views.aggregate(
            req, agg, members=False)}, agg['version'])

    def show(self, req, id):
        policy.authorize(req.context, aggregate_rules.PREFIX % 'show')
        aggregate_id = self._aggregate_id(req, id)
        if conditional.wants_not_modified(req):
            # One read by primary key, where the store can tell.
            unchanged = conditional.not_modified(
                req, self.manager.aggregate_version(req.context,
                                                    aggregate_id))
            if unchanged is not None:
                return unchanged
        if req.wants_xml:
            agg = self.manager.get_aggregate(req.context, aggregate_id)
            return conditional.not_modified(req, agg['version']) or _tagged(
                req, {'aggregate': views.aggregate(req, agg)},
                agg['version'])
        version, encoded = self.rendered.aggregate(req, aggregate_id)
        return conditional.not_modified(req, version) or \
            wsgi.encoded_json_response(
                b'{"aggregate": ' + encoded + b'}',
                headers={'ETag': conditional.etag(req, version)})

    def update(self, req, id, body):
        policy.authorize(req.context, aggregate_rules.PREFIX % 'update')
        aggregate_id = self._aggregate_id(req, id)
        _validate(schemas.UPDATE, body)
        agg = self.manager.update_aggregate(
            req.context, aggregate_id,
            expected_versions=conditional.expected_versions(req),
            **body['aggregate'])
        return _tagged(req, {'aggregate': views.aggregate(req, agg)},
                       agg['version'])

    def delete(self, req, id):
        policy.authorize(req.context, aggregate_rules.PREFIX % 'delete')
        self.manager.delete_aggregate(
            req.context, self._aggregate_id(req, id),
            expected_versions=conditional.expected_versions(req))

    def action(self, req, id, body):
        if not isinstance(body, dict) or len(body) != 1:
            raise faults.APIError(400, 'An action body must hold exactly '
                                  'one action: add_host, remove_host or '
                                  'set_metadata.')
        (name, _), = body.items()
        if name not in _ACTIONS:
            raise faults.APIError(400, 'Aggregates does not have the %s '
                                  'action; use add_host, remove_host or '
                                  'set_metadata.' % repr(name)[:64])
        policy.authorize(req.context, aggregate_rules.PREFIX % name)
        aggregate_id = self._aggregate_id(req, id)
        _validate(_ACTIONS[name], body)
        expected = conditional.expected_versions(req)
        if name == 'add_host':
            agg = self.manager.add_host(req.context, aggregate_id,
                                        body[name]['host'],
                                        expected_versions=expected)
        elif name == 'remove_host':
            agg = self.manager.remove_host(req.context, aggregate_id,
                                           body[name]['host'],
                                           expected_versions=expected)
        else:
            agg = self.manager.set_metadata(req.context, aggregate_id,
                                            body[name]['metadata'],
                                            expected_versions=expected)
        return _tagged(req, {'aggregate': views.aggregate(req, agg)},
                       agg['version'])


class Aggregates(extension_framework.ExtensionDescriptor):
    """Admin-only aggregate administration"""

    name = 'Aggregates'
    alias = 'os-aggregates'
    namespace = 'http://docs.openstack.org/compute/ext/aggregates/api/v1.1'
    updated = '2012-01-12T00:00:00+00:00'

    def get_resources(self, services):
        return [extension_framework.ResourceExtension(
            ROUTES, AggregatesController(services.aggregates))]
