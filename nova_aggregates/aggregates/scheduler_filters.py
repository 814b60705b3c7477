"""Nova's scheduler rules about aggregates, one class per Nova filter name
(api-contract section 15), as pure functions of a host, its aggregates,
the request and the options: no database, no driver, no HTTP.

Every rule is Nova's, as its scheduler applies it today (read from Nova
34; ``tests/functional/nova/test_host_matching_parity.py`` runs Nova's own
filters on the same cases where a Nova is installed):

* a host's metadata is the union, over its aggregates, of every value
  split at commas and stripped (``aggregate_metadata_get_by_host``); the
  filters reading a single key's raw values say so
  (``aggregate_values_from_key``);
* ``AggregateInstanceExtraSpecsFilter``: the flavor's keys
  ``aggregate_instance_extra_specs:K`` and unscoped ``K`` (no ``:``) must
  each be in the host's metadata with a value that matches; keys of any
  other scope are not its business; ``match`` is Nova's operator grammar;
* ``AggregateImagePropertiesIsolation``: a metadata key that is a standard
  image property (optionally under a namespace) admits only images whose
  property has one of its values; an image without it passes;
* ``AggregateMultiTenancyIsolation``: ``filter_tenant_id*`` keys admit only
  their projects;
* ``AggregateTypeAffinityFilter``: ``instance_type`` admits only the flavor
  names it lists (an aggregate that names the flavor is enough);
* ``AggregateNumInstancesFilter``: at most ``max_instances_per_host``
  guests already on the host, the smallest value of its aggregates, else
  (none, or one not an integer) ``[filter_scheduler]
  max_instances_per_host``; ``NumInstancesFilter``: that option alone;
* ``AvailabilityZoneFilter``: the host's zones are its aggregates'
  ``availability_zone`` values, else its default zone (the rule of the
  filter of that name; current Nova, whose filters no longer include it,
  applies the requested zone in a placement pre-filter, always);
* ``ComputeFilter``: no disabled host (and no host in maintenance, which
  disables it);
* ``isolate_aggregates`` (placement pre-filter): an aggregate with
  ``trait:T=required`` admits only requests that require trait T.

Where Nova's scheduler would not refuse the host but fail the whole
request with an exception (``float()`` of a value that is no number, a
bare ``<or>``), the host is refused with a reason that says so: a request
Nova cannot schedule lands nowhere either.

Filters return None (the host passes) or a reason a person can read, which
names the aggregates (``aggregate 7 (gpu) has hw:gpu=true; the flavor asks
hw:gpu=false``).  ``cache_key`` tells the caller when a result holds for
every host with the same aggregates, so that it is worked out once per
distinct set of aggregates, not once per host.
"""

import operator
import re

from nova_aggregates import constants
from nova_aggregates import exception

EXTRA_SPECS_SCOPE = 'aggregate_instance_extra_specs'
TENANT_KEY_PREFIX = 'filter_tenant_id'
INSTANCE_TYPE_KEY = 'instance_type'
MAX_INSTANCES_KEY = 'max_instances_per_host'
TRAIT_PREFIX = 'trait:'
TRAIT_REQUIRED = 'required'

#: Flavor extra specs that require a trait (``trait:T`` or, for a request
#: group, ``trait<suffix>:T``), as Nova's ResourceRequest reads them.
_FLAVOR_TRAIT = re.compile(r'^trait([a-zA-Z0-9_-]{1,64})?:(.*)$')


# -- the image, as Nova's ImageMetaProps sees it ------------------------------

#: Standard image properties that Nova coerces: FlexibleBoolean fields (the
#: filter then compares "True"), Integer fields ("4" for " 4").
_BOOLEAN_PROPERTIES = frozenset((
    'hw_boot_menu', 'hw_ephemeral_encryption', 'hw_firmware_stateless',
    'hw_ipxe_boot', 'hw_locked_memory', 'hw_mem_encryption', 'hw_pmu',
    'hw_qemu_guest_agent', 'hw_time_hpet', 'hw_vif_multiqueue_enabled',
    'hw_virtio_packed_ring', 'img_bdm_v2', 'img_bittorrent',
    'img_cache_in_nova', 'img_hide_hypervisor_id', 'img_linked_clone',
    'img_use_agent', 'os_require_quiesce',
    'os_skip_agent_inject_files_at_boot', 'os_skip_agent_inject_ssh'))
_INTEGER_PROPERTIES = frozenset((
    'hw_cpu_cores', 'hw_cpu_max_cores', 'hw_cpu_max_sockets',
    'hw_cpu_max_threads', 'hw_cpu_sockets', 'hw_cpu_threads', 'hw_device_id',
    'hw_maxphysaddr_bits', 'hw_numa_nodes', 'hw_redirected_usb_ports',
    'hw_serial_port_count', 'hw_video_ram', 'img_compression_level',
    'img_version'))
#: List-valued properties.  ``traits_required`` (from ``trait:T =
#: required`` properties) and ``hw_numa_mem`` (from ``hw_numa_mem.0``,
#: ``.1``, ...) are built as Nova builds them, and compared in their
#: string form as Nova does; ``hw_numa_cpus`` (CPU sets) and the block
#: device mappings (structured, from Glance's JSON) are not read here.
_LIST_PROPERTIES = frozenset((
    'hw_numa_cpus', 'hw_numa_mem', 'img_block_device_mapping',
    'img_mappings', 'traits_required'))
#: Nova reads at most this many NUMA cells.
_NUMA_NODES_MAX = 128
#: The string (and enumerated) ones.  Nova also refuses an image whose
#: enumerated property holds a value outside its enumeration; here such a
#: value is compared as it is.
_STRING_PROPERTIES = frozenset((
    'hw_architecture', 'hw_auto_disk_config', 'hw_cdrom_bus',
    'hw_cpu_policy', 'hw_cpu_realtime_mask', 'hw_cpu_thread_policy',
    'hw_disk_bus', 'hw_disk_type', 'hw_emulation_architecture',
    'hw_ephemeral_encryption_format', 'hw_ephemeral_encryption_secret_uuid',
    'hw_firmware_type', 'hw_floppy_bus', 'hw_input_bus', 'hw_machine_type',
    'hw_maxphysaddr_mode', 'hw_mem_encryption_model', 'hw_mem_page_size',
    'hw_pci_numa_affinity_policy', 'hw_pointer_model', 'hw_rescue_bus',
    'hw_rescue_device', 'hw_rng_model', 'hw_scsi_model', 'hw_sound_model',
    'hw_tpm_model', 'hw_tpm_version', 'hw_usb_model', 'hw_video_model',
    'hw_vif_model', 'hw_viommu_model', 'hw_vm_mode', 'hw_watchdog_action',
    'img_config_drive', 'img_hv_requested_version', 'img_hv_type',
    'img_owner_id', 'img_root_device_name', 'img_signature',
    'img_signature_certificate_uuid', 'img_signature_hash_method',
    'img_signature_key_type', 'os_admin_user', 'os_command_line',
    'os_distro', 'os_secure_boot', 'os_type'))
#: Every field of Nova's ImageMetaProps: the only metadata keys
#: AggregateImagePropertiesIsolation can refuse a host for.
IMAGE_PROPERTIES = (_BOOLEAN_PROPERTIES | _INTEGER_PROPERTIES |
                    _LIST_PROPERTIES | _STRING_PROPERTIES)

#: Old property names Nova still reads, and the field each sets (the
#: current name wins when both are given).
_LEGACY_PROPERTIES = {
    'architecture': 'hw_architecture', 'auto_disk_config':
    'hw_auto_disk_config', 'bdm_v2': 'img_bdm_v2', 'bittorrent':
    'img_bittorrent', 'block_device_mapping': 'img_block_device_mapping',
    'cache_in_nova': 'img_cache_in_nova', 'hypervisor_type': 'img_hv_type',
    'hypervisor_version_requires': 'img_hv_requested_version',
    'ipxe_boot': 'hw_ipxe_boot', 'mappings': 'img_mappings', 'owner_id':
    'img_owner_id', 'root_device_name': 'img_root_device_name',
    'vm_mode': 'hw_vm_mode', 'vmware_disktype': 'hw_disk_type',
    'vmware_image_version': 'img_version', 'vmware_linked_clone':
    'img_linked_clone', 'vmware_ostype': 'os_distro', 'xenapi_device_id':
    'hw_device_id', 'xenapi_image_compression_level':
    'img_compression_level', 'xenapi_skip_agent_inject_files_at_boot':
    'os_skip_agent_inject_files_at_boot', 'xenapi_skip_agent_inject_ssh':
    'os_skip_agent_inject_ssh', 'xenapi_use_agent': 'img_use_agent',
}
_TRUE_STRINGS = frozenset(('1', 't', 'true', 'on', 'y', 'yes'))


def _coerce(name, value):
    if name in _BOOLEAN_PROPERTIES:
        # oslo's bool_from_string, not strict: anything else is False.
        return str(value).strip().lower() in _TRUE_STRINGS
    if name in _INTEGER_PROPERTIES:
        try:
            return int(value)
        except ValueError:
            raise exception.InvalidImageProperty(
                name=name, value=value, reason='it must be an integer')
    return value


class Image:
    """An image's properties as Nova's scheduler reads them: ``values``,
    the standard properties (legacy names mapped, booleans and integers
    coerced, list-valued ones left out), and ``traits``, those that
    ``trait:T = required`` properties require."""

    __slots__ = ('values', 'traits')

    def __init__(self, properties=None):
        properties = properties or {}
        values = {}
        for legacy, name in _LEGACY_PROPERTIES.items():
            if legacy in properties and name not in _LIST_PROPERTIES:
                values[name] = _coerce(name, properties[legacy])
        adapter = properties.get('vmware_adaptertype')
        if adapter == 'ide':
            values['hw_disk_bus'] = 'ide'
        elif adapter:
            values['hw_disk_bus'] = 'scsi'
            values['hw_scsi_model'] = adapter
        for name, value in properties.items():
            if name in IMAGE_PROPERTIES and name not in _LIST_PROPERTIES:
                values[name] = _coerce(name, value)
        numa_mem = []
        for cell in range(_NUMA_NODES_MAX):
            name = 'hw_numa_mem.%d' % cell
            if name not in properties:
                break
            try:
                numa_mem.append(int(properties[name]))
            except ValueError:
                raise exception.InvalidImageProperty(
                    name=name, value=properties[name],
                    reason='it must be an integer')
        if numa_mem:
            values['hw_numa_mem'] = numa_mem
        traits = [key[len(TRAIT_PREFIX):] for key, value in properties.items()
                  if key.startswith(TRAIT_PREFIX) and
                  str(value) == TRAIT_REQUIRED]
        if traits:
            values['traits_required'] = traits
        self.values = values
        self.traits = frozenset(traits)


class Request:
    """What an instance asks of its host."""

    __slots__ = ('flavor_name', 'extra_specs', 'image', 'project_id',
                 'availability_zone', 'required_traits')

    def __init__(self, flavor_name=None, extra_specs=None, image=None,
                 project_id=None, availability_zone=None):
        self.flavor_name = flavor_name
        self.extra_specs = dict(extra_specs or {})
        self.image = image if image is not None else Image()
        self.project_id = project_id
        self.availability_zone = availability_zone
        flavor_traits = set()
        for key, value in self.extra_specs.items():
            found = _FLAVOR_TRAIT.match(key)
            if found and value == TRAIT_REQUIRED:
                flavor_traits.add(found.group(2))
        self.required_traits = frozenset(flavor_traits) | self.image.traits


# -- the hosts, as the filters see them ---------------------------------------

def split_values(value):
    """A metadata value as Nova's filters read it: split at commas, each
    part stripped."""
    return frozenset(part.strip() for part in value.split(','))


class Aggregate:
    """One aggregate: id, name and metadata as stored; ``split(key)``, a
    value as the filters read it (split once, when first asked)."""

    __slots__ = ('id', 'name', 'metadata', '_split', '_derived')

    def __init__(self, id, name, metadata):
        self.id = id
        self.name = name
        self.metadata = metadata
        self._split = {}
        self._derived = {}

    def derived(self, name, compute):
        """``compute(self)``, worked out once per aggregate: what a filter
        reads of it is the same for each of its hosts."""
        try:
            return self._derived[name]
        except KeyError:
            found = self._derived[name] = compute(self)
            return found

    def split(self, key):
        """The values of ``key``, split and stripped; None without it."""
        try:
            return self._split[key]
        except KeyError:
            value = self.metadata.get(key)
            if value is None:
                # Not kept: an aggregate serves many requests (host
                # matching keeps it while unchanged), and the keys a
                # request may ask for have no end.
                return None
            found = self._split[key] = split_values(value)
            return found

    def has(self, key):
        """``aggregate 7 (gpu) has k=v``: in the reasons of each of its
        hosts, so written once."""
        try:
            return self._derived[('has', key)]
        except KeyError:
            found = self._derived[('has', key)] = '%s has %s=%s' % (
                self, key, self.metadata[key])
            return found

    def __str__(self):
        return 'aggregate %s (%s)' % (self.id, self.name)


class Aggregates:
    """The aggregates of a host (in the order of their ids); hosts in the
    same aggregates share one, and with it the filters' results.

    ``get(key)`` is Nova's ``aggregate_metadata_get_by_host(host)[key]``:
    the union of every aggregate's split values of ``key``, worked out
    when a reason needs it (the verdicts combine those of the aggregates,
    see ``HostFilter``).
    """

    __slots__ = ('members', 'ids', '_values')

    def __init__(self, members):
        self.members = tuple(members)
        self.ids = tuple(agg.id for agg in self.members)
        self._values = {}

    def get(self, key):
        """The union of the split values of ``key``; None when no aggregate
        has it."""
        try:
            return self._values[key]
        except KeyError:
            pass
        found = None
        for agg in self.members:
            values = agg.split(key)
            if values is not None:
                found = values if found is None else found | values
        if found is not None:
            # Only keys some member has (see Aggregate.split).
            self._values[key] = found
        return found

    def describe(self, key):
        """``aggregate 7 (gpu) has k=v; aggregate 9 (x) has k=w``."""
        return '; '.join(agg.has(key) for agg in self.members
                         if key in agg.metadata)

    def names(self):
        return ', '.join(str(agg) for agg in self.members)


class HostState:
    """One registered compute host.  ``guests``: how many guests it runs,
    once counted (an exception when they could not be)."""

    __slots__ = ('name', 'zone', 'default_zone', 'status', 'disabled_reason',
                 'maintenance', 'aggregates', 'guests')

    def __init__(self, name, aggregates, zone=None, default_zone=None,
                 status=constants.HOST_ENABLED, disabled_reason=None,
                 maintenance=constants.OFF_MAINTENANCE, guests=None):
        self.name = name
        self.aggregates = aggregates
        self.zone = zone
        self.default_zone = default_zone
        self.status = status
        self.disabled_reason = disabled_reason
        self.maintenance = maintenance
        self.guests = guests


# -- Nova's extra spec operators ----------------------------------------------

class NotComparable(Exception):
    """Nova's comparison raises an exception here (the scheduler then fails
    the request instead of refusing the host)."""


_NUMBER_OPS = {'=': operator.ge, '==': operator.eq, '!=': operator.ne,
               '>=': operator.ge, '<=': operator.le}
_STRING_OPS = {'s==': operator.eq, 's!=': operator.ne, 's<': operator.lt,
               's<=': operator.le, 's>': operator.gt, 's>=': operator.ge}
_MEANINGS = {
    '=': 'a number at least %s', '>=': 'a number at least %s',
    '==': 'a number equal to %s', '!=': 'a number other than %s',
    '<=': 'a number at most %s', 's==': 'the string %s',
    's!=': 'any string but %s', 's<': 'a string sorting before %s',
    's<=': 'a string sorting before or as %s',
    's>': 'a string sorting after %s',
    's>=': 'a string sorting after or as %s',
    '<in>': 'a value containing %s',
    '<all-in>': 'a value containing each of %s',
    '<or>': 'one of %s',
}
OPERATORS = tuple(_MEANINGS)


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise NotComparable('%s is not a number' % text)


def match(value, requirement):
    """Whether metadata ``value`` satisfies the extra spec ``requirement``
    (Nova's ``extra_specs_ops.match``): an operator and its operand(s),
    split at whitespace, or else a plain string compared whole.

    ``=`` is "at least" on numbers; ``<or>`` takes every other word after
    it as an alternative (``<or> a <or> b``); ``<all-in>`` every word.
    NotComparable where Nova's own comparison raises.
    """
    words = requirement.split()
    op = words[0] if words else None
    operands = words[1:]
    if op == '<or>':
        if not operands:
            raise NotComparable('"<or>" has no alternative after it')
        return value in operands[0::2]
    if op in _NUMBER_OPS:
        if not operands:
            return False
        return _NUMBER_OPS[op](_number(value), _number(operands[0]))
    if op in _STRING_OPS:
        return bool(operands) and _STRING_OPS[op](value, operands[0])
    if op == '<in>':
        return bool(operands) and operands[0] in value
    if op == '<all-in>':
        return bool(operands) and all(word in value for word in operands)
    return value == requirement


def explain(requirement):
    """`` "<in> ssd", a value containing ssd``, or ``=ssd`` for a plain
    string."""
    words = requirement.split()
    if not words or words[0] not in _MEANINGS:
        return '=%s' % requirement
    operands = words[1:]
    if words[0] == '<or>':
        shown = ' or '.join(operands[0::2])
    elif words[0] == '<all-in>':
        shown = ', '.join(operands)
    else:
        shown = operands[0] if operands else ''
    if not operands:
        return ' "%s", an operator with nothing after it' % requirement
    return ' "%s", %s' % (requirement, _MEANINGS[words[0]] % shown)


# -- the filters --------------------------------------------------------------

class HostFilter:
    """A Nova filter: ``reject(host, request)`` is None or a reason.

    A filter object serves one request (``chain`` builds them per
    request): what it works out per aggregate for that request is kept in
    it, since a host's verdict combines those of its aggregates (metadata
    is a union over them, so "some value matches" is "some aggregate has a
    value that matches").
    """

    #: Whether it needs ``HostState.guests``.
    counts_guests = False

    @property
    def name(self):
        return type(self).__name__

    def applies(self, request):
        """False when the filter passes every host for ``request`` (it
        then does not run)."""
        return True

    def cache_key(self, host):
        """A key under which the result holds for other hosts too; None:
        ask for each host."""
        return host.aggregates

    def states(self, request):
        """{aggregate: what it holds for this rule}, for ``request``."""
        if getattr(self, '_states_request', None) is not request:
            self._states_request = request
            self._states = {}
        return self._states

    def reject(self, host, request):
        raise NotImplementedError()


class AllHostsFilter(HostFilter):

    def applies(self, request):
        return False

    def reject(self, host, request):
        return None


#: What one aggregate holds for one rule: not the key, the key without the
#: value sought, the key with it.
ABSENT, PRESENT, MATCHES = 0, 1, 2


def _combined(host, states, state_of):
    """The best of the host's aggregates' states (MATCHES first), each
    worked out once (``states``: {aggregate: state})."""
    found = ABSENT
    for agg in host.aggregates.members:
        state = states.get(agg)
        if state is None:
            state = states[agg] = state_of(agg)
        if state == MATCHES:
            return MATCHES
        if state == PRESENT:
            found = PRESENT
    return found


def _missing(host, key):
    if host.aggregates.members:
        return 'no aggregate of the host has metadata key %s (it is in %s)' % (
            key, host.aggregates.names())
    return 'the host is in no aggregate, so none has metadata key %s' % key


def _spec_state(key, wanted):
    def state_of(agg):
        values = agg.split(key)
        if values is None:
            return ABSENT
        for value in values:
            try:
                if match(value, wanted):
                    return MATCHES
            except NotComparable:
                pass
        return PRESENT
    return state_of


class AggregateInstanceExtraSpecsFilter(HostFilter):

    def __init__(self):
        self._request = None
        self._specs = ()

    def _relevant(self, request):
        """[(spec, metadata key, requirement, states)] of the flavor's
        specs that are this filter's."""
        if request is not self._request:
            specs = []
            for spec, wanted in request.extra_specs.items():
                scope, colon, rest = spec.partition(':')
                if colon:
                    if scope != EXTRA_SPECS_SCOPE:
                        continue  # another filter's (hw:, trait:, ...)
                    key = rest
                else:
                    key = spec
                specs.append((spec, key, wanted, _spec_state(key, wanted),
                              {}))
            self._request, self._specs = request, specs
        return self._specs

    def applies(self, request):
        return bool(self._relevant(request))

    def reject(self, host, request):
        for spec, key, wanted, state_of, states in self._relevant(request):
            found = _combined(host, states, state_of)
            if found == MATCHES:
                continue
            alias = '' if key == spec else ' (its extra spec %s)' % spec
            if found == ABSENT:
                return 'the flavor asks %s%s%s; %s' % (
                    key, explain(wanted), alias, _missing(host, key))
            errors = set()
            for value in host.aggregates.get(key):
                try:
                    match(value, wanted)
                except NotComparable as exc:
                    errors.add(str(exc))
            reason = '%s; the flavor asks %s%s%s' % (
                host.aggregates.describe(key), key, explain(wanted), alias)
            if errors:
                reason += (' (%s: Nova\'s scheduler fails the whole request '
                           'with an error on it)' % '; '.join(sorted(errors)))
            return reason
        return None


def _value_state(key, text):
    def state_of(agg):
        values = agg.split(key)
        if values is None:
            return ABSENT
        return MATCHES if text in values else PRESENT
    return state_of


class AggregateImagePropertiesIsolation(HostFilter):

    def __init__(self, namespace=None, separator='.'):
        self.prefix = (namespace + (separator or '')) if namespace else None
        self._request = None
        self._properties = ()

    def _relevant(self, request):
        """[(property, its string form, states)]: the properties the image
        has (true ones: Nova lets a false or missing one pass) whose name
        can be a metadata key the filter reads."""
        if request is not self._request:
            self._properties = [
                (name, str(value), _value_state(name, str(value)), {})
                for name, value in sorted(request.image.values.items())
                if value and (self.prefix is None or
                              name.startswith(self.prefix))]
            self._request = request
        return self._properties

    def applies(self, request):
        return bool(self._relevant(request))

    def reject(self, host, request):
        for name, text, state_of, states in self._relevant(request):
            if _combined(host, states, state_of) == PRESENT:
                return '%s; the image has %s=%s' % (
                    host.aggregates.describe(name), name, text)
        return None


def _tenant_keys(agg):
    return tuple(key for key in agg.metadata
                 if key.startswith(TENANT_KEY_PREFIX))


def _isolating_keys(agg):
    return tuple(sorted(key for key, value in agg.metadata.items()
                        if key.startswith(TRAIT_PREFIX) and
                        value == TRAIT_REQUIRED))


class AggregateMultiTenancyIsolation(HostFilter):

    def reject(self, host, request):
        project = request.project_id

        def state_of(agg):
            keys = agg.derived('tenant_keys', _tenant_keys)
            if not keys:
                return ABSENT
            for key in keys:
                if project in agg.split(key):
                    return MATCHES
            return PRESENT
        if _combined(host, self.states(request), state_of) != PRESENT:
            return None
        keys = sorted({key for agg in host.aggregates.members
                       for key in agg.derived('tenant_keys', _tenant_keys)})
        return '%s; the request is for project %s' % (
            '; '.join(host.aggregates.describe(key) for key in keys),
            project)


class AggregateTypeAffinityFilter(HostFilter):

    def reject(self, host, request):
        flavor = request.flavor_name

        def state_of(agg):
            value = agg.metadata.get(INSTANCE_TYPE_KEY)
            if value is None:
                return ABSENT
            # Not split where the others are: each value on its own.
            listed = [part.strip() for part in value.split(',')]
            return MATCHES if flavor in listed else PRESENT
        if _combined(host, self.states(request), state_of) != PRESENT:
            return None
        if flavor is None:
            return '%s; the request names no flavor' % (
                host.aggregates.describe(INSTANCE_TYPE_KEY))
        return '%s; the flavor is %s' % (
            host.aggregates.describe(INSTANCE_TYPE_KEY), flavor)


class NumInstancesFilter(HostFilter):

    counts_guests = True

    def __init__(self, max_instances_per_host=50):
        self.default = max_instances_per_host
        self._limits = {}

    def cache_key(self, host):
        return None

    def cached_limit(self, host):
        """``limit(host)``, once per set of aggregates."""
        try:
            return self._limits[host.aggregates]
        except KeyError:
            found = self._limits[host.aggregates] = self.limit(host)
            return found

    def limit(self, host):
        """(the limit, where it comes from)."""
        return self.default, ('[filter_scheduler] max_instances_per_host '
                              'is %d' % self.default)

    def reject(self, host, request):
        guests = host.guests
        if isinstance(guests, Exception):
            return 'its guests could not be counted: %s' % guests
        limit, source = self.cached_limit(host)
        if guests < limit:
            return None
        return 'the host runs %d guest%s and %s' % (
            guests, '' if guests == 1 else 's', source)


_NOT_AN_INTEGER = object()


def _max_instances(agg):
    value = agg.metadata.get(MAX_INSTANCES_KEY)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return _NOT_AN_INTEGER


class AggregateNumInstancesFilter(NumInstancesFilter):

    def limit(self, host):
        values = [agg.derived('max_instances', _max_instances)
                  for agg in host.aggregates.members]
        values = [value for value in values if value is not None]
        if not values:
            return super().limit(host)
        if _NOT_AN_INTEGER in values:
            # Nova falls back to the option when any value is bad.
            return self.default, (
                '%s, which is not a whole number, so [filter_scheduler] '
                'max_instances_per_host (%d) applies' % (
                    host.aggregates.describe(MAX_INSTANCES_KEY),
                    self.default))
        limit = min(values)
        holder = [agg for agg in host.aggregates.members
                  if agg.derived('max_instances', _max_instances) == limit][0]
        return limit, '%s has %s=%s' % (holder, MAX_INSTANCES_KEY,
                                        holder.metadata[MAX_INSTANCES_KEY])


class AvailabilityZoneFilter(HostFilter):

    def applies(self, request):
        return bool(request.availability_zone)

    def cache_key(self, host):
        return None

    def reject(self, host, request):
        wanted = request.availability_zone
        if not wanted:
            return None
        found = _combined(host, self.states(request),
                          _value_state(constants.AVAILABILITY_ZONE, wanted))
        if found == MATCHES:
            return None
        if found == PRESENT:
            return 'the request asks for availability zone %s; %s' % (
                wanted, host.aggregates.describe(constants.AVAILABILITY_ZONE))
        if wanted == host.default_zone:
            return None
        return ('the request asks for availability zone %s; the host is in '
                'no aggregate with an availability zone, so it is in its '
                'default zone %s' % (wanted, host.default_zone))


class ComputeFilter(HostFilter):

    def cache_key(self, host):
        return None

    def reject(self, host, request):
        if host.maintenance != constants.OFF_MAINTENANCE:
            return 'the host is in maintenance (os-hosts maintenance_mode ' \
                   '%s)' % host.maintenance
        if host.status != constants.HOST_ENABLED:
            if host.disabled_reason:
                return 'the host is disabled: %s' % host.disabled_reason
            return 'the host is disabled'
        return None


class IsolateAggregates(HostFilter):
    """Nova's placement pre-filter ``isolate_aggregates``."""

    name = 'isolate_aggregates'

    def reject(self, host, request):
        required = request.required_traits
        known = self.states(request)
        refusing = []
        for agg in host.aggregates.members:
            found = known.get(agg)
            if found is None:
                found = known[agg] = [
                    '%s has %s=%s' % (agg, key, TRAIT_REQUIRED)
                    for key in agg.derived('isolating_keys', _isolating_keys)
                    if key[len(TRAIT_PREFIX):] not in required]
            refusing.extend(found)
        if not refusing:
            return None
        return ('%s: it admits only requests that require %s, and neither '
                'the flavor nor the image requires %s' % (
                    '; '.join(refusing),
                    'that trait' if len(refusing) == 1 else 'those traits',
                    'it' if len(refusing) == 1 else 'them all'))


# -- which filters run --------------------------------------------------------

#: The filters host matching evaluates, by Nova's class name.
EVALUATED = {cls.__name__: cls for cls in (
    AggregateInstanceExtraSpecsFilter, AggregateImagePropertiesIsolation,
    AggregateMultiTenancyIsolation, AggregateTypeAffinityFilter,
    AggregateNumInstancesFilter, NumInstancesFilter, AllHostsFilter,
    AvailabilityZoneFilter, ComputeFilter)}

#: Nova's other filter classes: accepted, every host passes them.
NOT_EVALUATED = frozenset((
    'AggregateIoOpsFilter', 'ComputeCapabilitiesFilter',
    'DifferentHostFilter', 'ImagePropertiesFilter', 'IoOpsFilter',
    'IsolatedHostsFilter', 'JsonFilter', 'MetricsFilter',
    'NUMATopologyFilter', 'PciPassthroughFilter', 'SameHostFilter',
    'ServerGroupAffinityFilter', 'ServerGroupAntiAffinityFilter',
    'SimpleCIDRAffinityFilter'))

#: What applies whatever ``enabled_filters`` says, first, as Nova's
#: mandatory pre-filters do: the requested zone (map_az_to_placement_
#: aggregate; the AvailabilityZoneFilter of older releases) and the
#: host's status (compute_status_filter).
_MANDATORY = ('AvailabilityZoneFilter', 'ComputeFilter')


def check_names(names):
    """SchedulerFilterNotFound for a name that is no filter of Nova's."""
    for name in names:
        if name not in EVALUATED and name not in NOT_EVALUATED:
            raise exception.SchedulerFilterNotFound(name=name)


def chain(conf):
    """The filters of a request under ``conf``, in the order they run."""
    options = conf.filter_scheduler
    names = list(options.enabled_filters)
    check_names(names)
    filters = [EVALUATED[name]() for name in _MANDATORY]
    if conf.scheduler.enable_isolated_aggregate_filtering:
        filters.append(IsolateAggregates())
    seen = set(_MANDATORY)
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        if name in NOT_EVALUATED:
            continue  # passes every host: nothing to run
        cls = EVALUATED[name]
        if issubclass(cls, NumInstancesFilter):
            filters.append(cls(options.max_instances_per_host))
        elif cls is AggregateImagePropertiesIsolation:
            filters.append(cls(
                options.aggregate_image_properties_isolation_namespace,
                options.aggregate_image_properties_isolation_separator))
        else:
            filters.append(cls())
    return filters
