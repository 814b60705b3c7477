"""Default policy rules, one per operation (oslo.policy)."""

import itertools

from nova_aggregates.policies import aggregates
from nova_aggregates.policies import base
from nova_aggregates.policies import hosts


def list_rules():
    return list(itertools.chain(base.list_rules(), aggregates.list_rules(),
                                hosts.list_rules()))
