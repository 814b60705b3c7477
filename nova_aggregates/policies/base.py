from oslo_policy import policy

ADMIN = 'rule:context_is_admin'
ANY = '@'

rules = [
    policy.RuleDefault('context_is_admin', 'role:admin',
                       description='Who counts as an administrator.'),
]


def list_rules():
    return rules
