"""Authentication filters.

``noauth2`` and ``keystonecontext`` put the caller's RequestContext in the
environ; ``authtoken`` is keystonemiddleware's auth_token, reading
``[keystone_authtoken]`` from the service's configuration, and must run
right before ``keystonecontext``.

Version documents (the root of a surface) answer without credentials, as
clients discover them before they authenticate.
"""

import logging

import webob

from nova_aggregates.api import faults
from nova_aggregates.api import wsgi
from nova_aggregates import conf as na_conf
from nova_aggregates import context

LOG = logging.getLogger(__name__)

_ROOT_PATHS = ('', '/')

#: The environ key keystonemiddleware's auth_token sets on every request it
#: lets through (its auth plugin for the request).
AUTH_TOKEN_ENVIRON = 'keystone.token_auth'

#: auth_token keys that would make it read another configuration object.
_AUTH_TOKEN_CONFIG_KEYS = ('oslo_config_config', 'oslo_config_project',
                           'oslo_config_file')


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

    @staticmethod
    def authenticate(environ):
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

    @staticmethod
    def authenticate(environ):
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
    """Identity from what keystonemiddleware's auth_token set.

    auth_token strips every identity header a client sent and, for a token
    Keystone confirmed, sets ``X-Identity-Status: Confirmed``,
    ``X-User-Id``, ``X-Project-Id`` and ``X-Roles``.  Those headers are
    trusted only on a request that went through auth_token, which always
    leaves its auth plugin in the environ (``keystone.token_auth``): a key
    no HTTP header can set.  Any other request is refused (401) and the
    misconfigured pipeline is logged: headers alone never grant anything.
    """

    @staticmethod
    def authenticate(environ):
        if AUTH_TOKEN_ENVIRON not in environ:
            LOG.error(
                'keystonecontext refused a request to %(surface)s (request '
                '%(request)s) that did not pass through keystonemiddleware '
                'auth_token: the paste pipeline serving %(surface)s is '
                'misconfigured, auth_token (the authtoken filter) must run '
                'before keystonecontext.',
                {'surface': environ.get('SCRIPT_NAME') or '/',
                 'request': environ.get('openstack.request_id', '-')})
            return 'Authentication required.'
        if environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
            return 'Authentication required.'
        user = environ.get('HTTP_X_USER_ID')
        project = environ.get('HTTP_X_PROJECT_ID')
        if not user or not project:
            return 'Authentication required: the token has no user or ' \
                'project scope.'
        roles = [r.strip() for r in
                 (environ.get('HTTP_X_ROLES') or '').split(',') if r.strip()]
        return _new_context(environ, user_id=user, project_id=project,
                            roles=roles, is_admin='admin' in roles)


_STRATEGIES = {'noauth2': NoAuth2, 'keystone': KeystoneContext}


def authenticate(strategy, environ):
    """The caller of a request as the filter of ``[api] auth_strategy``
    ``strategy`` sees it: a RequestContext, or the message of a 401.  The
    ``extensions`` filter authenticates the requests to its own resources
    this way, and only those."""
    return _STRATEGIES[strategy].authenticate(environ)


#: Set on the environ by the application auth_token calls: a response
#: without it was answered by auth_token itself.
_PASSED_AUTH_TOKEN = 'nova_aggregates.passed_auth_token'

#: Messages of auth_token's own refusals, in our words.
_REFUSALS = {
    401: 'Authentication required: send a valid Keystone token in '
         'X-Auth-Token.',
    503: 'The identity service is unavailable; try again shortly.',
}


class _AuthToken:
    """keystonemiddleware's auth_token, except for the version documents
    (the root of a surface), which answer without a token.

    auth_token answers its own refusals (no, invalid, expired or revoked
    token; Keystone unreachable) in a body of its own; they become compute
    faults here, JSON or XML as the client asked, with auth_token's headers
    (``WWW-Authenticate``) kept.
    """

    def __init__(self, application, protocol):
        self.application = application
        self.protocol = protocol

    def __call__(self, environ, start_response):
        if environ.get('PATH_INFO', '') in _ROOT_PATHS:
            return self.application(environ, start_response)
        refused = []

        def _start_response(status, headers, exc_info=None):
            code = int(status.split(' ', 1)[0])
            if code in _REFUSALS and not environ.get(_PASSED_AUTH_TOKEN):
                refused.append((code, headers))
                return lambda data: None
            return start_response(status, headers, exc_info)

        result = self.protocol(environ, _start_response)
        if not refused:
            return result
        if hasattr(result, 'close'):
            result.close()
        code, headers = refused[0]
        kept = {name: value for name, value in headers
                if name.lower() == 'www-authenticate'}
        response = faults.fault_response(
            code, _REFUSALS[code], wsgi.wants_xml(webob.Request(environ)),
            headers=kept)
        return response(environ, start_response)


def _mark_passed(application):
    def _passed(environ, start_response):
        environ[_PASSED_AUTH_TOKEN] = True
        return application(environ, start_response)
    return _passed


def noauth2_filter_factory(global_conf, **local_conf):
    return NoAuth2


def keystone_context_filter_factory(global_conf, **local_conf):
    return KeystoneContext


def authtoken_filter_factory(global_conf, **local_conf):
    """keystonemiddleware's auth_token, configured by ``[keystone_authtoken]``
    of the service's own configuration object.

    The object is handed to auth_token explicitly (its ``oslo_config_config``
    key): auth_token never looks for oslo.config's global CONF by itself.
    Options of the paste filter section still override the file; the
    paste ``[DEFAULT]`` section (global_conf) does not reach auth_token.
    """
    from keystonemiddleware import auth_token

    conf = na_conf.CONF
    paste_options = dict(local_conf)
    for key in _AUTH_TOKEN_CONFIG_KEYS:
        if paste_options.pop(key, None) is not None:
            LOG.warning('Ignoring %s in the authtoken filter section: '
                        'auth_token reads the service configuration.', key)

    def _filter(app):
        # A new dict for each filter: auth_token takes oslo_config_config
        # out of the dict it is given, and a second filter built from the
        # same dict would silently read the global cfg.CONF.
        options = dict(paste_options, oslo_config_config=conf)
        return _AuthToken(app, auth_token.AuthProtocol(_mark_passed(app),
                                                       options))
    return _filter
