"""Version discovery: ``GET /`` lists the surfaces, ``GET /v2.1`` (and
``/v1.1``, ``/v2``) describes one.  Both answer without credentials, since
clients read them before authenticating."""

import webob.dec

from nova_aggregates.api import faults
from nova_aggregates.api import microversion
from nova_aggregates.api import middleware
from nova_aggregates.api import wsgi

_MEDIA_TYPES = [{'base': 'application/json',
                 'type': 'application/vnd.openstack.compute+json;version=%s'}]

# prefix -> (id, status, microversioned, updated)
SURFACES = (
    ('v1.1', 'v1.1', 'DEPRECATED', False, '2012-01-12T00:00:00Z'),
    ('v2', 'v2.0', 'SUPPORTED', False, '2011-01-21T11:33:21Z'),
    ('v2.1', 'v2.1', 'CURRENT', True, '2013-07-23T11:33:21Z'),
)


def _describe(prefix, base_url):
    for path, version_id, status, microversioned, updated in SURFACES:
        if path == prefix:
            doc = {
                'id': version_id,
                'status': status,
                'version': microversion.to_string(microversion.MAX_VERSION)
                if microversioned else '',
                'min_version': microversion.to_string(microversion.MIN_VERSION)
                if microversioned else '',
                'updated': updated,
                'links': [{'rel': 'self', 'href': base_url}],
            }
            return doc
    raise KeyError(prefix)


def version_document(req, prefix):
    """``{"version": ...}`` for the surface mounted at ``req.script_name``."""
    base_url = req.host_url + req.script_name + '/'
    doc = _describe(prefix, base_url)
    doc['links'].append({'rel': 'describedby', 'type': 'text/html',
                         'href': 'https://docs.openstack.org/'})
    doc['media-types'] = [dict(m, type=m['type'] % version_id)
                          for m in _MEDIA_TYPES
                          for version_id in [doc['id'][1:]]]
    return {'version': doc}


def _refused_method(req):
    """The 405 of a version document asked for with another method than
    GET or HEAD; None when it may be answered."""
    if req.method in ('GET', 'HEAD'):
        return None
    return faults.fault_response(405, 'Method %s is not allowed here.'
                                 % req.method, headers={'Allow': 'GET'})


def surface_response(req, default_prefix):
    """The version document at the root of a surface: the one of the prefix
    it is mounted at, else the one of ``default_prefix``."""
    refused = _refused_method(req)
    if refused is not None:
        return refused
    prefix = req.script_name.rsplit('/', 1)[-1] or 'v2.1'
    if prefix not in [s[0] for s in SURFACES]:
        prefix = default_prefix
    return wsgi.json_response(version_document(req, prefix))


@webob.dec.wsgify
def versions_app(req):
    if req.path_info not in ('', '/'):
        return faults.fault_response(404, 'Unknown URL.', wsgi.wants_xml(req))
    refused = _refused_method(req)
    if refused is not None:
        return refused
    base = req.host_url + req.script_name
    versions = [_describe(path, '%s/%s/' % (base, path))
                for path, *_ in SURFACES]
    return wsgi.json_response({'versions': versions})


def app_factory(global_conf, **local_conf):
    # Outside the surfaces' pipelines: give it their request id headers.
    return middleware.RequestId(versions_app)
