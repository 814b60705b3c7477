"""Default policy rules, one per operation (oslo.policy)."""

import itertools

from nova_aggregates.policies import aggregates
from nova_aggregates.policies import base
from nova_aggregates.policies import host_matching
from nova_aggregates.policies import hosts
from nova_aggregates.policies import rolling_maintenance


def list_rules():
    return list(itertools.chain(base.list_rules(), aggregates.list_rules(),
                                hosts.list_rules(),
                                host_matching.list_rules(),
                                rolling_maintenance.list_rules()))
