"""The ``nova_api`` aggregate store (``[database] aggregate_store =
nova_api``): aggregates, their hosts and metadata in the tables of Nova's
API database, as Nova's schema defines them, so that Nova (its scheduler,
availability zones, ``nova-manage placement sync_aggregates``) and this
service see each other's changes.  What Nova's schema has no column for
lives in a table of ours in the same database (``models``).

The modules mirror the own store's (``db/aggregates.py``,
``db/aggregate_hosts.py``, ``db/aggregate_metadata.py``,
``db/compute_hosts.py``): the same functions with the same arguments,
returning the same shapes, under the same locking rules.  ``STORE`` is
what ``db/api.py`` binds when ``configure`` reads ``nova_api``.
"""

from nova_aggregates.db.nova_api import aggregate_hosts
from nova_aggregates.db.nova_api import aggregate_metadata
from nova_aggregates.db.nova_api import aggregates
from nova_aggregates.db.nova_api import compute_hosts
from nova_aggregates.db.nova_api import host_layout
from nova_aggregates.db.nova_api import models

#: {name in db.api: function or table}
STORE = {
    'aggregate_compare_and_set_state':
        aggregates.aggregate_compare_and_set_state,
    'aggregate_create': aggregates.aggregate_create,
    'aggregate_delete': aggregates.aggregate_delete,
    'aggregate_get': aggregates.aggregate_get,
    'aggregate_get_all': aggregates.aggregate_get_all,
    'aggregate_get_by_state': aggregates.aggregate_get_by_state,
    'aggregate_list': aggregates.aggregate_list,
    'aggregate_get_many': aggregates.aggregate_get_many,
    'aggregate_versions': aggregates.aggregate_versions,
    'aggregate_version': aggregates.aggregate_version,
    'aggregates_version': aggregates.aggregates_version,
    'version_of': aggregates.version_of,
    'aggregate_update': aggregates.aggregate_update,
    'lock_aggregate': aggregates.lock_aggregate,
    'aggregate_host_add': aggregate_hosts.aggregate_host_add,
    'aggregate_host_remove': aggregate_hosts.aggregate_host_remove,
    'host_aggregates': aggregate_hosts.host_aggregates,
    'aggregate_metadata_update': aggregate_metadata.aggregate_metadata_update,
    'compute_host_claim': compute_hosts.compute_host_claim,
    'compute_host_create': compute_hosts.compute_host_create,
    'compute_host_delete': compute_hosts.compute_host_delete,
    'compute_host_get': compute_hosts.compute_host_get,
    'compute_host_get_all': compute_hosts.compute_host_get_all,
    'compute_host_release': compute_hosts.compute_host_release,
    'compute_host_update': compute_hosts.compute_host_update,
    'lock_hosts': compute_hosts.lock_hosts,
    'host_layout_get': host_layout.host_layout_get,
    'aggregates': models.aggregates,
    'aggregate_hosts': models.aggregate_hosts,
    'aggregate_metadata': models.aggregate_metadata,
    'compute_hosts': models.compute_hosts,
}
