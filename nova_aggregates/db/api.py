"""The database layer's public interface: every function and table the rest
of the service may use, and nothing else.

Callers import this module (``from nova_aggregates.db import api as db``);
the code behind it lives by concern:

* ``engine.py``: oslo.db's enginefacade set up for each backend
  (``get_engine``, ``ping``), the ``writer``/``reader``
  decorators, ``transaction`` for the rules' write transactions, ``now``;
* ``aggregates.py``: the ``aggregates`` table, whole aggregates read with
  their hosts and metadata, and the locking rules (see its docstring);
* ``aggregate_hosts.py`` and ``aggregate_metadata.py``: membership and
  metadata writes, and the aggregates a host is in;
* ``compute_hosts.py``: registered compute hosts and their row locks;
* ``host_layout.py``: hosts and aggregates at once, for host matching;
* ``placement_mirror.py``: memberships Placement may not show yet;
* ``models.py``: the tables;
* ``nova_api/``: the same functions and tables on Nova's API database.

Two stores (``[database] aggregate_store``) answer the functions and
tables of ``_PER_STORE``: ``own`` (the modules above) and ``nova_api``.
``configure`` binds the configured store's as this module's names (and
``dispose`` the own store's again), so a call costs what it costs without a
choice of store: one attribute lookup and the function.
"""

from nova_aggregates.conf import database as db_conf
from nova_aggregates.db.aggregate_hosts import (
    aggregate_host_add, aggregate_host_remove, host_aggregates)
from nova_aggregates.db.aggregate_metadata import aggregate_metadata_update
from nova_aggregates.db.aggregates import (
    aggregate_compare_and_set_state, aggregate_create, aggregate_delete,
    aggregate_get, aggregate_get_all, aggregate_get_by_state,
    aggregate_get_many, aggregate_list, aggregate_update, aggregate_version,
    aggregate_versions, aggregates_version, lock_aggregate, version_of)
from nova_aggregates.db.compute_hosts import (
    compute_host_claim, compute_host_create, compute_host_delete,
    compute_host_get, compute_host_get_all, compute_host_release,
    compute_host_update, lock_hosts)
from nova_aggregates.db import engine
from nova_aggregates.db.guest_origins import (
    guest_origin_set, guest_origins_forget, guest_origins_of)
from nova_aggregates.db.host_layout import host_layout_get
from nova_aggregates.db.engine import (
    get_engine, now, ping, reader, transaction, writer)
from nova_aggregates.db.models import (
    aggregate_hosts, aggregate_metadata, aggregates, compute_hosts)
from nova_aggregates.db.placement_mirror import (
    placement_step_claim, placement_step_done, placement_step_failed,
    placement_step_get, placement_step_queue, placement_steps_all,
    placement_steps_due)
from nova_aggregates.db.rolling_maintenance import (
    lock_rolling_task, rolling_task_active_of, rolling_task_claim,
    rolling_task_create,
    rolling_task_get, rolling_task_get_all, rolling_task_host_update,
    rolling_task_update)

__all__ = [
    # engine
    'configure', 'dispose', 'get_engine', 'now', 'ping', 'reader',
    'transaction', 'writer',
    # tables
    'aggregate_hosts', 'aggregate_metadata', 'aggregates', 'compute_hosts',
    # aggregates
    'aggregate_compare_and_set_state', 'aggregate_create', 'aggregate_delete',
    'aggregate_get', 'aggregate_get_all', 'aggregate_get_by_state',
    'aggregate_update', 'lock_aggregate',
    # versions, for conditional requests (ETags)
    'aggregate_list', 'aggregate_version', 'aggregate_versions',
    'aggregates_version', 'aggregate_get_many', 'version_of',
    # their hosts and metadata
    'aggregate_host_add', 'aggregate_host_remove', 'aggregate_metadata_update',
    'host_aggregates',
    # compute hosts
    'compute_host_claim', 'compute_host_create', 'compute_host_delete',
    'compute_host_get', 'compute_host_get_all', 'compute_host_release',
    'compute_host_update', 'lock_hosts',
    # what host matching reads: hosts, aggregates, members, metadata
    'host_layout_get',
    # where evacuated guests came from (one table in both stores)
    'guest_origin_set', 'guest_origins_forget', 'guest_origins_of',
    # rolling maintenance tasks (one table pair in both stores)
    'lock_rolling_task', 'rolling_task_active_of', 'rolling_task_claim',
    'rolling_task_create',
    'rolling_task_get', 'rolling_task_get_all', 'rolling_task_host_update',
    'rolling_task_update',
    # Placement mirror steps waiting (one table in both stores)
    'placement_step_claim', 'placement_step_done', 'placement_step_failed',
    'placement_step_get', 'placement_step_queue', 'placement_steps_all',
    'placement_steps_due',
]

#: The names each store binds: everything above but the engine's and those
#: both stores share.
_PER_STORE = tuple(name for name in __all__ if name not in (
    'configure', 'dispose', 'get_engine', 'now', 'ping', 'reader',
    'transaction', 'writer', 'guest_origin_set', 'guest_origins_forget',
    'guest_origins_of') and not name.startswith((
        'rolling_task_', 'lock_rolling_task', 'placement_step')))

_OWN = {name: globals()[name] for name in _PER_STORE}


def _store(name):
    if name == db_conf.NOVA_API:
        # Imported on first use: the own store does not load it.
        from nova_aggregates.db import nova_api
        return nova_api.STORE
    return _OWN


def configure(conf):
    """Point the service at ``[database] connection`` and connect (see
    ``engine.configure``), and bind the functions and tables of
    ``[database] aggregate_store``; may be called again."""
    engine.configure(conf)
    _bind(_store(engine.store()))


def dispose():
    """Close the database pool (see ``engine.dispose``); the own store's
    names are bound until ``configure`` runs again."""
    engine.dispose()
    _bind(_OWN)


def _bind(store):
    globals().update((name, store[name]) for name in _PER_STORE)
