"""Policy enforcement (oslo.policy): defaults in ``policies/``, overridable
by the operator's policy file."""

from oslo_policy import policy

from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates import policies

_ENFORCER = None


def get_enforcer(conf=None):
    """The process-wide enforcer (also the oslo.policy.enforcer entry
    point used by the oslopolicy tools)."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = policy.Enforcer(conf or na_conf.CONF)
        _ENFORCER.register_defaults(policies.list_rules())
    return _ENFORCER


def reset():
    global _ENFORCER
    if _ENFORCER is not None:
        _ENFORCER.clear()
    _ENFORCER = None


def authorize(context, action, target=None):
    """Raise PolicyNotAuthorized unless ``context`` may do ``action``."""
    target = target or {'project_id': context.project_id,
                        'user_id': context.user_id}
    try:
        get_enforcer().authorize(action, target, context,
                                 do_raise=True,
                                 exc=exception.PolicyNotAuthorized,
                                 action=action)
    except policy.InvalidScope:
        raise exception.PolicyNotAuthorized(action=action)
