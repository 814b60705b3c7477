"""State names of an aggregate and the metadata keys the service owns.

Defined once, here, below every layer: the rules (``aggregates/``), the
queries (``db/``), the drivers (``virt/``) and the commands all import these
names, and this module imports nothing.

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

#: A compute host's status, and its maintenance mode (as os-hosts shows).
HOST_ENABLED = 'enabled'
HOST_DISABLED = 'disabled'
ON_MAINTENANCE = 'on_maintenance'
OFF_MAINTENANCE = 'off_maintenance'

POOL_FLAG = 'hypervisor_pool'
POOL_FLAG_VALUE = 'true'
AVAILABILITY_ZONE = 'availability_zone'
#: The pool master's compute host name (written by the drivers).
MASTER = 'master_compute'
#: Shown in the metadata of pool aggregates (not stored there).
STATE_KEY = 'operational_state'
LAST_ERROR = 'last_error'
#: Prefix of the metadata key that records a member's XenServer host uuid
#: (``xenapi_host_uuid:<host>``, written by the xenapi driver).
XENAPI_HOST_UUID_PREFIX = 'xenapi_host_uuid:'

#: Bookkeeping keys users may not write with set_metadata.
RESERVED_KEYS = frozenset((STATE_KEY, MASTER, LAST_ERROR))
#: Reserved whatever the configured driver (a database may outlive one).
RESERVED_PREFIXES = (XENAPI_HOST_UUID_PREFIX,)
