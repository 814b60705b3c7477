"""The cache key of policy decisions (nova_aggregates.policy._key)."""

import testtools

from nova_aggregates import context
from nova_aggregates import policy


def _context(**kwargs):
    values = dict(user_id='u', project_id='p', roles=['member'],
                  overwrite=False)
    values.update(kwargs)
    return context.RequestContext(**values)


class TestDecisionKey(testtools.TestCase):

    def test_the_credentials_are_what_policy_is_given(self):
        self.assertEqual(set(policy.CREDENTIALS),
                         set(_context().to_policy_values()))

    def test_every_credential_changes_the_key(self):
        keys = {policy._key('action', _context())}
        for name in policy.CREDENTIALS:
            ctx = _context()
            value = getattr(ctx, name)
            setattr(ctx, name, ['other'] if isinstance(value, list)
                    else not value if isinstance(value, bool) else 'other')
            keys.add(policy._key('action', ctx))
        self.assertEqual(len(policy.CREDENTIALS) + 1, len(keys))
        self.assertNotEqual(policy._key('a', _context()),
                            policy._key('b', _context()))
        self.assertEqual(policy._key('a', _context()),
                         policy._key('a', _context()))

    def test_a_context_with_policy_values_of_its_own_is_keyed_by_them(self):
        class Custom(context.RequestContext):
            def to_policy_values(self):
                values = super().to_policy_values()
                values['user_name'] = self.user_name
                return values

        def custom(user_name):
            return Custom(user_id='u', project_id='p', roles=['member'],
                          user_name=user_name, overwrite=False)
        self.assertNotEqual(policy._key('a', custom('x')),
                            policy._key('a', custom('y')))
        self.assertEqual(policy._key('a', custom('x')),
                         policy._key('a', custom('x')))
