"""Policy enforcement (oslo.policy): defaults in ``policies/``, overridable
by the operator's policy file."""

import operator
import threading
import time

from oslo_context import context as oslo_context
from oslo_policy import policy

from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates import policies

# Rules are re-read from the policy file at most this often; decisions are
# cached per (rules, action, credentials) in between.  oslo.policy would
# otherwise stat the policy files and re-inspect every check per request.
RELOAD_INTERVAL = 1.0
_CACHE_SIZE = 4096

_ENFORCER = None
_lock = threading.Lock()
_decisions = {}
_loaded = {'at': 0.0, 'rules': None}


def get_enforcer(conf=None):
    """The process-wide enforcer (also the oslo.policy.enforcer entry
    point used by the oslopolicy tools)."""
    global _ENFORCER
    enforcer = _ENFORCER
    if enforcer is None:
        with _lock:
            if _ENFORCER is None:
                # Published only with its rules registered: a concurrent
                # first request must not see an empty enforcer.
                enforcer = policy.Enforcer(conf or na_conf.CONF)
                enforcer.register_defaults(policies.list_rules())
                _ENFORCER = enforcer
            enforcer = _ENFORCER
    return enforcer


def reset():
    global _ENFORCER
    with _lock:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None
        _decisions.clear()
        _loaded.update(at=0.0, rules=None)


def _current_rules(enforcer):
    now = time.monotonic()
    if now - _loaded['at'] >= RELOAD_INTERVAL:
        with _lock:
            # One thread reloads; the others wait and use the result.
            if now - _loaded['at'] >= RELOAD_INTERVAL:
                enforcer.load_rules()
                if enforcer.rules is not _loaded['rules']:
                    _decisions.clear()
                _loaded.update(at=now, rules=enforcer.rules)
    return _loaded['rules']


#: The RequestContext attributes oslo.context's ``to_policy_values`` is
#: made of, under the same names: a decision's cache key is read from
#: them, cheaper than building that dictionary per request.  Only for
#: contexts whose ``to_policy_values`` is oslo.context's and names
#: nothing else (``_key``).
CREDENTIALS = (
    'user_id', 'user_domain_id', 'system_scope', 'domain_id', 'project_id',
    'project_domain_id', 'roles', 'is_admin_project', 'service_user_id',
    'service_user_domain_id', 'service_project_id',
    'service_project_domain_id', 'service_roles')
_credential_values = operator.attrgetter(*CREDENTIALS)
#: Per context class: whether ``CREDENTIALS`` names all of its
#: ``to_policy_values``.
_credentials_known = {}


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _key(action, context):
    known = _credentials_known.get(type(context))
    if known is None:
        known = _credentials_known[type(context)] = (
            type(context).to_policy_values is
            oslo_context.RequestContext.to_policy_values and
            set(context.to_policy_values()) <= set(CREDENTIALS))
    if known:
        return (action, *[tuple(value) if value.__class__ is list else value
                          for value in _credential_values(context)])
    creds = context.to_policy_values()
    return (action, *[(name, _hashable(creds[name]))
                      for name in sorted(creds)])


def authorize(context, action):
    """Raise PolicyNotAuthorized unless ``context`` may do ``action``.

    The target is the caller's own project, so the decision depends only on
    the action, the credentials and the rules: that is the cache key.
    """
    enforcer = get_enforcer()
    rules = _current_rules(enforcer)
    key = _key(action, context)
    allowed = _decisions.get(key)
    if allowed is None:
        target = {'project_id': context.project_id,
                  'user_id': context.user_id}
        try:
            allowed = bool(enforcer.authorize(action, target, context,
                                              do_raise=False))
        except policy.InvalidScope:
            allowed = False
        with _lock:
            if rules is _loaded['rules']:
                if len(_decisions) >= _CACHE_SIZE:
                    _decisions.clear()
                _decisions[key] = allowed
    if not allowed:
        raise exception.PolicyNotAuthorized(action=action)
