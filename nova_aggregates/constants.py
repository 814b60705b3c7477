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

#: Prefix of the metadata key that shows a Placement mirror step still
#: waiting for host ``<host>`` (``placement_mirror:<host>``, api-contract
#: §16): written when the step fails, removed once Placement matches.
PLACEMENT_MIRROR_PREFIX = 'placement_mirror:'

#: Bookkeeping keys users may not write with set_metadata.
RESERVED_KEYS = frozenset((STATE_KEY, MASTER, LAST_ERROR))
#: Reserved whatever the configured driver (a database may outlive one).
RESERVED_PREFIXES = (XENAPI_HOST_UUID_PREFIX,)

#: A rolling maintenance task's states (api-contract §14).
TASK_QUEUED = 'queued'
TASK_RUNNING = 'running'
TASK_SUCCEEDED = 'succeeded'
TASK_FAILED = 'failed'
TASK_CANCELLING = 'cancelling'
TASK_CANCELLED = 'cancelled'
#: A runner has work to do on a task in these (it holds its aggregate).
TASK_ACTIVE_STATES = (TASK_QUEUED, TASK_RUNNING, TASK_CANCELLING)
#: Those a task may be resumed from.
TASK_RESUMABLE_STATES = (TASK_FAILED, TASK_CANCELLED)

#: The states of one host of a task.
TASK_HOST_PENDING = 'pending'
TASK_HOST_EVACUATING = 'evacuating'
TASK_HOST_ACTING = 'acting'
TASK_HOST_RESTORING = 'restoring'
TASK_HOST_DONE = 'done'
TASK_HOST_FAILED = 'failed'

#: What a task does to each empty host in maintenance.
HOST_ACTIONS = ('reboot', 'command', 'none')
