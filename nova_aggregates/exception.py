"""Typed errors raised below the API.

Each class belongs to one category (NotFound, Conflict, Invalid, ...); the
API maps categories to HTTP status codes in exactly one place
(``nova_aggregates.api.faults``).  Nothing here knows about HTTP.
"""


class AggregatesException(Exception):
    """Base class; ``msg_fmt`` is filled from the keyword arguments."""

    msg_fmt = 'An unknown error occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


# -- categories -------------------------------------------------------------

class Invalid(AggregatesException):
    msg_fmt = 'Invalid request: %(reason)s'


class NotFound(AggregatesException):
    msg_fmt = 'Resource could not be found.'


class Conflict(AggregatesException):
    msg_fmt = 'The request conflicts with the current state.'


class PreconditionFailed(AggregatesException):
    msg_fmt = 'A condition of the request does not hold.'


class Forbidden(AggregatesException):
    msg_fmt = 'Not authorized.'


class ServiceUnavailable(AggregatesException):
    msg_fmt = 'The service is temporarily unavailable.'


class HypervisorUnreachable(AggregatesException):
    msg_fmt = 'Hypervisor of compute host %(host)s cannot be reached: %(reason)s'


class HypervisorTimeout(AggregatesException):
    msg_fmt = ('Hypervisor of compute host %(host)s did not answer within '
               '%(timeout)s seconds.')


# -- aggregates -------------------------------------------------------------

class AggregateNotFound(NotFound):
    msg_fmt = 'Aggregate %(aggregate_id)s could not be found.'


class AggregateVersionMismatch(PreconditionFailed):
    msg_fmt = ('Aggregate %(aggregate_id)s has changed since the version '
               'named in If-Match was read; read it again.')


class AggregateNameExists(Conflict):
    msg_fmt = 'Aggregate %(name)s already exists.'


class AggregateNotEmpty(Invalid):
    msg_fmt = ('Cannot delete aggregate %(aggregate_id)s: it still has hosts '
               '%(hosts)s. Remove them first.')


class AggregateHostExists(Conflict):
    msg_fmt = 'Aggregate %(aggregate_id)s already has host %(host)s.'


class AggregateHostNotFound(NotFound):
    msg_fmt = 'Aggregate %(aggregate_id)s has no host %(host)s.'


class HostZoneConflict(Conflict):
    msg_fmt = ('Cannot add host %(host)s to aggregate %(aggregate_id)s: its '
               'availability zone %(zone)s conflicts with zone '
               '%(other_zone)s of aggregate %(other_aggregate)s that the host '
               'is in.')


class InvalidZoneChange(Invalid):
    msg_fmt = ('Cannot set availability zone %(zone)s on aggregate '
               '%(aggregate_id)s: host %(host)s is in aggregate '
               '%(other_aggregate)s with availability zone %(other_zone)s.')


class InvalidAvailabilityZone(Invalid):
    msg_fmt = ('The availability zone of an aggregate cannot be empty or '
               'null; to drop it, delete and recreate the aggregate.')


class ReservedMetadataKey(Invalid):
    msg_fmt = ('Metadata key %(key)s is reserved for pool bookkeeping and '
               'cannot be set.')


class TooManyMetadataItems(Invalid):
    msg_fmt = ('Aggregate %(aggregate_id)s would hold %(count)d metadata '
               'items; the limit is %(limit)d.')


# -- compute hosts ----------------------------------------------------------

class ComputeHostNotFound(NotFound):
    msg_fmt = 'Compute host %(host)s could not be found.'


class ComputeHostExists(Conflict):
    msg_fmt = 'Compute host %(host)s is already registered.'


class InvalidHypervisorURL(Invalid):
    msg_fmt = ('Hypervisor URL %(url)s is not valid: %(reason)s. Give an '
               'http:// or https:// URL, e.g. https://10.0.0.5/.')


class HostInventoryUnavailable(ServiceUnavailable):
    msg_fmt = ('The compute hosts of the compute API behind this service '
               'cannot be listed: %(reason)s')


class ComputeHostInUse(Conflict):
    msg_fmt = ('Compute host %(host)s is in aggregates %(aggregates)s; remove '
               'it from them first.')


# -- hypervisor pools -------------------------------------------------------

class PoolOperationInProgress(Conflict):
    msg_fmt = ('A pool operation is in progress on aggregate '
               '%(aggregate_id)s; try again when it is finished.')


class HostInAnotherPool(Conflict):
    msg_fmt = ('Host %(host)s is already in hypervisor pool aggregate '
               '%(other_aggregate)s.')


class PoolFlagLocked(Conflict):
    msg_fmt = ('hypervisor_pool can only be changed while aggregate '
               '%(aggregate_id)s has no hosts.')


class PoolMasterNotAlone(Conflict):
    msg_fmt = ('Cannot remove host %(host)s from aggregate %(aggregate_id)s: '
               'it is the pool master and other members remain '
               '(%(members)s). Put it in maintenance first: that hands the '
               'master role to another member.')


# -- host status and maintenance --------------------------------------------

class HostNotInService(Conflict):
    msg_fmt = ('Compute host %(host)s is %(why)s: it cannot join an '
               'aggregate until it is enabled and out of maintenance.')


class HostOperationInProgress(Conflict):
    msg_fmt = ('A status or maintenance change of compute host %(host)s is '
               'in progress; try again when it is finished.')


class GuestsOutsideAnyPool(Conflict):
    msg_fmt = ('Compute host %(host)s is in no hypervisor pool aggregate, so '
               'its guests have nowhere to be live-migrated: it may enter '
               'maintenance only with no running guests (it runs %(count)s: '
               '%(guests)s).')


class MaintenanceBlocked(Conflict):
    """No target for some guests (``blocked``: dicts with vm, name, reason,
    code): nothing was moved."""

    msg_fmt = ('Compute host %(host)s cannot enter maintenance; nothing was '
               'moved and the host is enabled as before. %(details)s')

    def __init__(self, message=None, **kwargs):
        self.blocked = kwargs.pop('blocked', [])
        if 'details' not in kwargs:
            kwargs['details'] = ' '.join(
                'Guest %(name)s (%(vm)s) has no target: %(reason)s '
                '(%(code)s).' % b for b in self.blocked)
        super().__init__(message, **kwargs)


class HostHasGuests(Conflict):
    msg_fmt = ('Cannot remove host %(host)s from the pool of aggregate '
               '%(aggregate_id)s: it runs guest VMs (%(count)s); migrate or '
               'stop them first.')


class PoolOperationRefused(Conflict):
    """XenServer (or another hypervisor) said no; ``code`` is its error."""

    msg_fmt = ('Hypervisor refused to %(action)s host %(host)s: %(code)s '
               '%(details)s')

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.code = kwargs.get('code')


class HostRebootRefused(PoolOperationRefused):
    """The hypervisor refused to reboot a host (XenAPI ``host.reboot``);
    ``code`` is its error: ``HOST_NOT_DISABLED`` (the host is enabled),
    ``HOST_IN_USE`` (a guest runs on it), or whatever else it said."""

    def __init__(self, message=None, **kwargs):
        kwargs.setdefault('action', 'reboot')
        super().__init__(message, **kwargs)


class HostDidNotComeBack(HypervisorTimeout):
    """A rebooted host did not answer again within ``timeout`` seconds
    (``host``: the compute host).  It may still come back later."""

    msg_fmt = ('Compute host %(host)s was rebooted but its hypervisor did '
               'not answer again within %(timeout)s seconds.')

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.host = kwargs.get('host')
        self.timeout = kwargs.get('timeout')


# -- host matching ----------------------------------------------------------

class InvalidImageProperty(Invalid):
    msg_fmt = ('Image property %(name)s = %(value)r is not valid: %(reason)s. '
               'Nova refuses to boot such an image.')


# -- drivers and configuration ----------------------------------------------

class DriverNotFound(AggregatesException):
    msg_fmt = 'No compute driver named %(name)s is installed.'


class ConfigurationError(AggregatesException):
    msg_fmt = 'nova-aggregates configuration: %(reason)s'


class SchedulerFilterNotFound(ConfigurationError):
    msg_fmt = ('nova-aggregates configuration: [filter_scheduler] '
               'enabled_filters names %(name)s, which is no filter of '
               'Nova\'s scheduler (Nova refuses it too).')


class SchemaMismatch(AggregatesException):
    msg_fmt = 'Cannot sync the database of [database] connection: %(reason)s'


class ExtensionError(AggregatesException):
    msg_fmt = 'Cannot load API extension %(name)s: %(reason)s'


class PolicyNotAuthorized(Forbidden):
    msg_fmt = "Policy doesn't allow %(action)s to be performed."


class RollingMaintenanceNotFound(NotFound):
    msg_fmt = 'Rolling maintenance task %(task_id)s could not be found.'


class RollingMaintenanceInProgress(Conflict):
    msg_fmt = ('Rolling maintenance task %(task_id)s holds aggregate '
               '%(aggregate_id)s: no other task or pool operation may run on '
               'it until that task ends (or is cancelled: DELETE '
               'os-rolling-maintenance/%(task_id)s).')


class RollingMaintenanceStateConflict(Conflict):
    msg_fmt = ('Rolling maintenance task %(task_id)s is in state %(state)s: '
               'it cannot be %(action)s.')


class HostActionFailed(AggregatesException):
    """The host action of a rolling maintenance task failed (the task
    records it; no API request raises it)."""
    msg_fmt = '%(reason)s'


class HostsOutOfService(Conflict):
    msg_fmt = ('Rolling maintenance of aggregate %(aggregate_id)s takes only '
               'hosts that are enabled and out of maintenance; %(hosts)s: '
               'leave them out of "hosts", or bring them back into service '
               'first.')


# -- Placement -----------------------------------------------------------------

class BadGateway(AggregatesException):
    """A service we depend on answered, but with an error."""
    msg_fmt = 'A service this request depends on failed.'


class PlacementUnavailable(ServiceUnavailable):
    msg_fmt = 'Placement cannot be reached (%(reason)s)'


class PlacementFailed(BadGateway):
    msg_fmt = 'Placement answered %(status)s to %(method)s %(path)s: %(detail)s'


class PlacementConflict(AggregatesException):
    """The resource provider kept changing under us (generation
    conflicts); the mirror step is kept and retried."""
    msg_fmt = ('resource provider %(provider)s changed under every one of '
               '%(attempts)d attempts (generation conflicts)')
