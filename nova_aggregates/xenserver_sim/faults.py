"""Fault-injection rules: match a XenAPI call, then misbehave in a chosen way.

Rules only act on calls that arrive over the wire at a host endpoint; the
in-process login a joining host makes to its master is not a wire call and is
never matched.
"""

import itertools
import numbers
import threading

EXPIRE_SESSION = 'expire_session'
DROP_CONNECTION = 'drop_connection'
HTTP_500 = 'http_500'
MALFORMED = 'malformed'
HALF_DONE_JOIN = 'half_done_join'
LATE_JOIN = 'late_join'
LATE_DESIGNATE = 'late_designate'
HANG = 'hang'
NEVER_BACK = 'never_back'

# Actions answered by the HTTP layer instead of a XenAPI reply.
WIRE_ACTIONS = (DROP_CONNECTION, HTTP_500, MALFORMED)
# Actions that only make sense for pool.join / pool.join_force.
JOIN_ACTIONS = (HALF_DONE_JOIN, LATE_JOIN)
# Success is answered at once; the effect comes ``delay`` seconds later.
LATE_ACTIONS = (LATE_JOIN, LATE_DESIGNATE)
# Actions that change how the operation itself ends (``Call.mode``).
MODE_ACTIONS = (HALF_DONE_JOIN, NEVER_BACK)
ACTIONS = (EXPIRE_SESSION,) + WIRE_ACTIONS + JOIN_ACTIONS + (
    LATE_DESIGNATE,
    HANG,
    NEVER_BACK,
)
JOIN_METHODS = ('pool.join', 'pool.join_force')
DESIGNATE_METHOD = 'pool.designate_new_master'
REBOOT_METHOD = 'host.reboot'


def strip_async(method):
    return method[len('Async.'):] if method.startswith('Async.') else method


class FaultRule:
    """One rule; ``remaining`` is None for "always"."""

    def __init__(self, rule_id, method, error, delay, times, host, action):
        self.id = rule_id
        self.method = method
        self.error = error
        self.delay = delay
        self.remaining = times
        self.host = host
        self.action = action

    def matches(self, host_name, method, has_session, is_async=False):
        if self.host is not None and self.host != host_name:
            return False
        if self.method not in ('*', method):
            return False
        # Expiring a session needs a session; a login call would otherwise eat
        # the rule.
        if self.action == EXPIRE_SESSION and not has_session:
            return False
        if (
            self.action in JOIN_ACTIONS
            and strip_async(method) not in JOIN_METHODS
        ):
            return False
        if (
            self.action == LATE_DESIGNATE
            and strip_async(method) != DESIGNATE_METHOD
        ):
            return False
        if self.action == NEVER_BACK and method != REBOOT_METHOD:
            return False
        # Only a task can hang: a synchronous call would hold its
        # connection forever.
        if self.action == HANG and not is_async:
            return False
        return True

    def as_dict(self):
        return {
            'id': self.id,
            'method': self.method,
            'error': self.error,
            'delay': self.delay,
            'times': self.remaining,
            'host': self.host,
            'action': self.action,
        }


def validate(method, error, delay, times, action):
    """Check inject() arguments; returns them normalised or raises
    ValueError."""
    if not isinstance(method, str) or not method:
        raise ValueError("method must be a XenAPI method name or '*'")
    if error is not None:
        if isinstance(error, str):
            error = [error]
        error = [str(item) for item in error]
        if not error:
            raise ValueError(
                "error must be a non-empty list like ['CODE', 'param']"
            )
    if delay is not None:
        if (
            isinstance(delay, bool)
            or not isinstance(delay, numbers.Real)
            or delay < 0
        ):
            raise ValueError('delay must be a number of seconds >= 0')
        delay = float(delay)
    if times is not None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError('times must be an integer >= 1 or None (always)')
    if action is not None and action not in ACTIONS:
        raise ValueError('action must be one of %s' % ', '.join(ACTIONS))
    if error is not None and action is not None:
        raise ValueError('give either error or action, not both')
    if error is None and action is None and not delay:
        raise ValueError('a rule needs an error, an action or a delay')
    if action in LATE_ACTIONS and delay is None:
        raise ValueError(
            '%s needs delay= (seconds until it takes effect)' % action
        )
    return method, error, delay, times, action


class FaultTable:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._ids = itertools.count(1)

    def add(
        self, method, error=None, delay=None, times=1, host=None, action=None
    ):
        method, error, delay, times, action = validate(
            method, error, delay, times, action
        )
        with self._lock:
            rule = FaultRule(
                next(self._ids), method, error, delay, times, host, action
            )
            self._rules.append(rule)
            return rule.id

    def take(self, host_name, methods, has_session, is_async=False):
        """Consume and return the first rule matching any of ``methods`` (in
        order); ``is_async``: the call is an ``Async.*`` one."""
        with self._lock:
            for method in methods:
                for rule in self._rules:
                    if rule.matches(host_name, method, has_session, is_async):
                        if rule.remaining is not None:
                            rule.remaining -= 1
                            if rule.remaining <= 0:
                                self._rules.remove(rule)
                        return rule
        return None

    def remove(self, rule_id):
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self):
        with self._lock:
            self._rules = []

    def list(self):
        with self._lock:
            return [r.as_dict() for r in self._rules]
