"""Entry point for oslo-config-generator."""

from nova_aggregates.conf import api
from nova_aggregates.conf import compute
from nova_aggregates.conf import coordination
from nova_aggregates.conf import database
from nova_aggregates.conf import filter_scheduler
from nova_aggregates.conf import maintenance
from nova_aggregates.conf import placement
from nova_aggregates.conf import xenapi
from nova_aggregates.conf import xenserver_sim


def list_opts():
    groups = {}
    for module in (compute, api, coordination, database, filter_scheduler,
                   maintenance, placement, xenapi, xenserver_sim):
        for group, opts in module.list_opts().items():
            groups.setdefault(group, []).extend(opts)
    return list(groups.items())
