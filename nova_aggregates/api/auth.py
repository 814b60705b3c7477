"""Authentication filters; each puts a RequestContext in the environ.

Version documents (the root of a surface) answer without credentials, as
clients discover them before they authenticate.
"""

import webob.dec

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import context

_ROOT_PATHS = ('', '/')


def _unauthorized(req, message):
    return faults.fault_response(401, message, wsgi.wants_xml(req))


def _request_id(req):
    return req.environ.get('openstack.request_id')


class NoAuth2:
    """``X-Auth-Token: user:project``; user ``admin`` is an administrator.

    A token without ``:`` (openstackclient sends ``notused``) is a user and
    project of that name, never an administrator.  For tests and the
    embedded setup only.
    """

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        if req.path_info in _ROOT_PATHS:
            return req.get_response(self.application)
        token = req.headers.get('X-Auth-Token', '').strip()
        if not token:
            return _unauthorized(req, 'Authentication required: send '
                                      'X-Auth-Token "user:project".')
        user, sep, project = token.partition(':')
        project = project if sep else user
        if not user or not project:
            return _unauthorized(req, 'Malformed X-Auth-Token; expected '
                                      '"user:project".')
        is_admin = user == 'admin'
        req.environ[wsgi.ENVIRON_CONTEXT] = context.RequestContext(
            user_id=user, project_id=project,
            roles=['admin'] if is_admin else ['member'],
            is_admin=is_admin, request_id=_request_id(req), overwrite=True)
        return req.get_response(self.application)


class KeystoneContext:
    """Identity from the headers of keystonemiddleware's auth_token."""

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        if req.path_info in _ROOT_PATHS:
            return req.get_response(self.application)
        if req.headers.get('X-Identity-Status', '').lower() != 'confirmed':
            return _unauthorized(req, 'Authentication required.')
        user = req.headers.get('X-User-Id') or req.headers.get('X-User')
        project = req.headers.get('X-Project-Id') or \
            req.headers.get('X-Tenant-Id') or req.headers.get('X-Tenant')
        if not user or not project:
            return _unauthorized(req, 'Authentication required: no user or '
                                      'project in the request.')
        roles = [r.strip() for r in req.headers.get('X-Roles', '').split(',')
                 if r.strip()]
        req.environ[wsgi.ENVIRON_CONTEXT] = context.RequestContext(
            user_id=user, project_id=project, roles=roles,
            is_admin='admin' in roles, request_id=_request_id(req),
            overwrite=True)
        return req.get_response(self.application)


def noauth2_filter_factory(global_conf, **local_conf):
    return NoAuth2


def keystone_context_filter_factory(global_conf, **local_conf):
    return KeystoneContext
