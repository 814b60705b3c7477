"""The database layer's public interface: every function and table the rest
of the service may use, and nothing else.

Callers import this module (``from nova_aggregates.db import api as db``);
the code behind it lives by concern:

* ``engine.py``: oslo.db's enginefacade set up for each backend
  (``configure``, ``dispose``, ``get_engine``, ``ping``), the ``writer``/``reader``
  decorators, ``transaction`` for the rules' write transactions, ``now``;
* ``aggregates.py``: the ``aggregates`` table, whole aggregates read with
  their hosts and metadata, and the locking rules (see its docstring);
* ``aggregate_hosts.py`` and ``aggregate_metadata.py``: membership and
  metadata writes, and the aggregates a host is in;
* ``compute_hosts.py``: registered compute hosts and their row locks;
* ``models.py``: the tables.
"""

from nova_aggregates.db.aggregate_hosts import (
    aggregate_host_add, aggregate_host_remove, host_aggregates)
from nova_aggregates.db.aggregate_metadata import aggregate_metadata_update
from nova_aggregates.db.aggregates import (
    aggregate_compare_and_set_state, aggregate_create, aggregate_delete,
    aggregate_get, aggregate_get_all, aggregate_get_by_state,
    aggregate_update, lock_aggregate)
from nova_aggregates.db.compute_hosts import (
    compute_host_create, compute_host_delete, compute_host_get,
    compute_host_get_all, compute_host_update, lock_hosts)
from nova_aggregates.db.engine import (
    configure, dispose, get_engine, now, ping, reader, transaction, writer)
from nova_aggregates.db.models import (
    aggregate_hosts, aggregate_metadata, aggregates, compute_hosts)

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
    # their hosts and metadata
    'aggregate_host_add', 'aggregate_host_remove', 'aggregate_metadata_update',
    'host_aggregates',
    # compute hosts
    'compute_host_create', 'compute_host_delete', 'compute_host_get',
    'compute_host_get_all', 'compute_host_update', 'lock_hosts',
]
