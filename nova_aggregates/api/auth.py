"""Authentication filters; each puts a RequestContext in the environ.

Version documents (the root of a surface) answer without credentials, as
clients discover them before they authenticate.
"""

import webob

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import context

_ROOT_PATHS = ('', '/')


def _unauthorized(environ, start_response, message):
    response = faults.fault_response(
        401, message, wsgi.wants_xml(webob.Request(environ)))
    return response(environ, start_response)


class _AuthFilter:
    """Plain WSGI: puts the caller's RequestContext in the environ."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '') in _ROOT_PATHS:
            return self.application(environ, start_response)
        ctx_or_message = self.authenticate(environ)
        if isinstance(ctx_or_message, str):
            return _unauthorized(environ, start_response, ctx_or_message)
        environ[wsgi.ENVIRON_CONTEXT] = ctx_or_message
        return self.application(environ, start_response)

    def authenticate(self, environ):
        """A RequestContext, or the message of a 401."""
        raise NotImplementedError()


def _new_context(environ, **kwargs):
    return context.RequestContext(
        request_id=environ.get('openstack.request_id'),
        global_request_id=environ.get('openstack.global_request_id'),
        overwrite=True, **kwargs)


class NoAuth2(_AuthFilter):
    """``X-Auth-Token: user:project``; user ``admin`` is an administrator.

    A token without ``:`` (openstackclient sends ``notused``) is a user and
    project of that name, never an administrator.  For tests and the
    embedded setup only.
    """

    def authenticate(self, environ):
        token = environ.get('HTTP_X_AUTH_TOKEN', '').strip()
        if not token:
            return ('Authentication required: send X-Auth-Token '
                    '"user:project".')
        user, sep, project = token.partition(':')
        project = project if sep else user
        if not user or not project:
            return 'Malformed X-Auth-Token; expected "user:project".'
        is_admin = user == 'admin'
        return _new_context(environ, user_id=user, project_id=project,
                            roles=['admin'] if is_admin else ['member'],
                            is_admin=is_admin)


class KeystoneContext(_AuthFilter):
    """Identity from the headers of keystonemiddleware's auth_token."""

    def authenticate(self, environ):
        if environ.get('HTTP_X_IDENTITY_STATUS', '').lower() != 'confirmed':
            return 'Authentication required.'
        user = environ.get('HTTP_X_USER_ID') or environ.get('HTTP_X_USER')
        project = environ.get('HTTP_X_PROJECT_ID') or \
            environ.get('HTTP_X_TENANT_ID') or environ.get('HTTP_X_TENANT')
        if not user or not project:
            return 'Authentication required: no user or project in the ' \
                'request.'
        roles = [r.strip() for r in environ.get('HTTP_X_ROLES', '').split(',')
                 if r.strip()]
        return _new_context(environ, user_id=user, project_id=project,
                            roles=roles, is_admin='admin' in roles)


def noauth2_filter_factory(global_conf, **local_conf):
    return NoAuth2


def keystone_context_filter_factory(global_conf, **local_conf):
    return KeystoneContext
