"""Operational states of an aggregate and the metadata keys they own.

A logical aggregate is ``created`` until its first host, then ``active``.  A
pool aggregate (metadata ``hypervisor_pool=true``) moves through ``changing``
while the hypervisor carries out a membership change; a failed change leaves
it in ``error`` with ``last_error`` set, from which add_host and remove_host
may be retried.
"""

CREATED = 'created'
CHANGING = 'changing'
ACTIVE = 'active'
ERROR = 'error'

#: States from which a pool membership change may start.
MAY_CHANGE = (CREATED, ACTIVE, ERROR)

POOL_FLAG = 'hypervisor_pool'
POOL_FLAG_VALUE = 'true'
AVAILABILITY_ZONE = 'availability_zone'
MASTER = 'master_compute'
STATE_KEY = 'operational_state'
LAST_ERROR = 'last_error'

#: Bookkeeping keys users may not write with set_metadata.
RESERVED_KEYS = frozenset((STATE_KEY, MASTER, LAST_ERROR))
RESERVED_PREFIXES = ('xenapi_host_uuid:',)
