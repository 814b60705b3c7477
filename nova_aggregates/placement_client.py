"""A client of OpenStack Placement for what mirroring needs: resource
providers by name, and their aggregates under Placement's generation
protocol.

Built from ``[placement]`` through keystoneauth (auth plugin, session,
adapter), so it finds Placement as Nova does: in the service catalog, or at
``endpoint_override`` (or an ``admin_token`` plugin's ``endpoint``).

Failures are typed: Placement not reachable (connection refused, timeout,
no endpoint) is ``PlacementUnavailable``; an answer other than the expected
one is ``PlacementFailed``; a 409 generation conflict is a ``False`` from
``put_aggregates`` (the caller reads again and retries).
"""

from urllib import parse

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading

from nova_aggregates.conf import placement as placement_conf
from nova_aggregates import exception


#: 1.19: PUT aggregates takes and returns the provider generation; every
#: call here works at it (``member_of`` needs 1.3, ``name`` 1.0).
MICROVERSION = 'placement 1.19'
_HEADERS = {'OpenStack-API-Version': MICROVERSION,
            'Accept': 'application/json'}
_CONCURRENT_UPDATE = 'placement.concurrent_update'
#: Placement's error details are short; a proxy's HTML page is not.
_DETAIL_LIMIT = 300


class PlacementClient:

    def __init__(self, conf):
        group = placement_conf.GROUP
        auth = ks_loading.load_auth_from_conf_options(conf, group)
        session = ks_loading.load_session_from_conf_options(
            conf, group, auth=auth)
        self._adapter = ks_loading.load_adapter_from_conf_options(
            conf, group, session=session, auth=auth)

    # -- requests -----------------------------------------------------------

    def _request(self, method, path, body=None, expected=(200,)):
        """``(status, json body)`` of one request; raises
        PlacementUnavailable / PlacementFailed for anything but
        ``expected`` (and 409, which callers read)."""
        try:
            response = self._adapter.request(
                path, method, json=body, headers=_HEADERS, raise_exc=False)
        except (ks_exc.ConnectionError, ks_exc.RequestTimeout,
                ks_exc.EndpointNotFound, ks_exc.DiscoveryFailure) as exc:
            raise exception.PlacementUnavailable(reason=_short(exc))
        except ks_exc.ClientException as exc:
            # Authentication against Keystone failed, and the like.
            raise exception.PlacementFailed(
                status='no answer', method=method, path=path,
                detail=_short(exc))
        if response.status_code in expected or response.status_code == 409:
            try:
                data = response.json() if response.content else None
            except ValueError:
                data = None
            return response.status_code, data
        if response.status_code in (502, 503, 504):
            raise exception.PlacementUnavailable(reason='%s answered %d' % (
                path, response.status_code))
        raise exception.PlacementFailed(
            status=response.status_code, method=method, path=path,
            detail=_error_detail(response))

    # -- resource providers ---------------------------------------------------

    def provider_uuid(self, name):
        """The uuid of the resource provider named ``name``, or None."""
        _, body = self._request('GET', '/resource_providers?name=%s' %
                                _quote(name))
        providers = body['resource_providers']
        return providers[0]['uuid'] if providers else None

    def providers(self):
        """Every resource provider: ``{name: uuid}``."""
        _, body = self._request('GET', '/resource_providers')
        return {rp['name']: rp['uuid'] for rp in body['resource_providers']}

    def providers_in(self, aggregate_uuid):
        """The providers that carry ``aggregate_uuid``: ``{name: uuid}``."""
        _, body = self._request('GET', '/resource_providers?member_of=%s' %
                                aggregate_uuid)
        return {rp['name']: rp['uuid'] for rp in body['resource_providers']}

    def aggregates(self, provider_uuid):
        """``(set of aggregate uuids, generation)`` of a provider; raises
        PlacementFailed (404) if it is gone."""
        _, body = self._request(
            'GET', '/resource_providers/%s/aggregates' % provider_uuid)
        return set(body['aggregates']), body['resource_provider_generation']

    def put_aggregates(self, provider_uuid, aggregate_uuids, generation):
        """Make the provider's aggregates ``aggregate_uuids`` if it is still
        at ``generation``: True, or False on a generation conflict."""
        status, body = self._request(
            'PUT', '/resource_providers/%s/aggregates' % provider_uuid,
            {'aggregates': sorted(aggregate_uuids),
             'resource_provider_generation': generation})
        if status == 409:
            if _error_code(body) not in (None, _CONCURRENT_UPDATE):
                raise exception.PlacementFailed(
                    status=409, method='PUT',
                    path='/resource_providers/%s/aggregates' % provider_uuid,
                    detail=_error_text(body))
            return False
        return True


def _quote(value):
    return parse.quote(value, safe='')


def _short(exc):
    return str(exc).strip()[:_DETAIL_LIMIT] or type(exc).__name__


def _errors(body):
    if isinstance(body, dict) and isinstance(body.get('errors'), list):
        return [e for e in body['errors'] if isinstance(e, dict)]
    return []


def _error_code(body):
    errors = _errors(body)
    return errors[0].get('code') if errors else None


def _error_text(body):
    errors = _errors(body)
    if not errors:
        return 'no error detail'
    return ('%s' % (errors[0].get('detail') or errors[0].get('title') or
                    'no error detail')).strip()[:_DETAIL_LIMIT]


def _error_detail(response):
    try:
        return _error_text(response.json())
    except ValueError:
        return (response.text or 'no error detail').strip()[:_DETAIL_LIMIT]
