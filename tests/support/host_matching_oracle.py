"""An independent evaluation of Nova's aggregate rules (api-contract
section 15), for checking what ``POST os-host-matching`` answers: written
from Nova's documented behaviour, straight-line and slow, sharing no code
with ``nova_aggregates.aggregates.scheduler_filters``.

``evaluate(layout, request, config)`` answers as the API must:
``{"hosts": [(host, zone, [aggregate ids])], "rejected": [(host, filter)]}``,
both sorted by host.  ``layout``: ``{"hosts": [{"name", "zone" (as
registered), "status", "maintenance", "guests"}], "aggregates": [{"id",
"name", "hosts", "metadata"}]}``.  ``config``: ``enabled_filters``,
``max_instances_per_host``, ``namespace``, ``separator``, ``isolate``,
``default_zone``.  The image properties it knows are those the randomized
tests generate: ``os_distro``, ``hw_cpu_cores`` (an integer),
``hw_qemu_guest_agent`` (a boolean), ``architecture`` (the legacy name of
``hw_architecture``) and ``trait:*``.
"""

_SCOPE = 'aggregate_instance_extra_specs'


def _split(value):
    return [part.strip() for part in value.split(',')]


class _Raises(Exception):
    """Nova's comparison raises: the host is refused."""


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise _Raises()


def nova_match(value, spec):
    """One metadata value against one extra spec, as extra_specs_ops
    does."""
    words = spec.split()
    if not words:
        return value == spec
    first, rest = words[0], words[1:]
    numeric = {'=': lambda a, b: a >= b, '==': lambda a, b: a == b,
               '!=': lambda a, b: a != b, '>=': lambda a, b: a >= b,
               '<=': lambda a, b: a <= b}
    strings = {'s==': lambda a, b: a == b, 's!=': lambda a, b: a != b,
               's<': lambda a, b: a < b, 's<=': lambda a, b: a <= b,
               's>': lambda a, b: a > b, 's>=': lambda a, b: a >= b}
    if first == '<or>':
        if not rest:
            raise _Raises()
        position = 0
        while position < len(rest):
            if rest[position] == value:
                return True
            position += 2
        return False
    if first in numeric:
        if not rest:
            return False
        return numeric[first](_float(value), _float(rest[0]))
    if first in strings:
        if not rest:
            return False
        return strings[first](value, rest[0])
    if first == '<in>':
        return bool(rest) and rest[0] in value
    if first == '<all-in>':
        if not rest:
            return False
        for word in rest:
            if word not in value:
                return False
        return True
    return value == spec


def _union(aggregates):
    merged = {}
    for agg in aggregates:
        for key, value in agg['metadata'].items():
            merged.setdefault(key, set())
            for part in _split(value):
                merged[key].add(part)
    return merged


def _raw(aggregates, key):
    return {agg['metadata'][key] for agg in aggregates
            if key in agg['metadata']}


def _image(properties):
    """{property: value as the filter compares it}, traits required."""
    values = {}
    if 'architecture' in properties:
        values['hw_architecture'] = properties['architecture']
    for name in ('os_distro', 'hw_architecture'):
        if name in properties:
            values[name] = properties[name]
    if 'hw_cpu_cores' in properties:
        values['hw_cpu_cores'] = int(properties['hw_cpu_cores'])
    if 'hw_qemu_guest_agent' in properties:
        values['hw_qemu_guest_agent'] = properties[
            'hw_qemu_guest_agent'].strip().lower() in (
            '1', 't', 'true', 'on', 'y', 'yes')
    traits = [key[6:] for key, value in properties.items()
              if key.startswith('trait:') and value == 'required']
    if traits:
        values['traits_required'] = traits
    return values, set(traits)


_IMAGE_FIELDS = {'os_distro', 'hw_architecture', 'hw_cpu_cores',
                 'hw_qemu_guest_agent', 'traits_required', 'hw_disk_bus',
                 'hw_vm_mode'}


def _passes(name, host, aggs, request, config, image, traits):
    metadata = _union(aggs)
    if name == 'AvailabilityZoneFilter':
        wanted = request.get('availability_zone')
        if not wanted:
            return True
        if 'availability_zone' in metadata:
            return wanted in metadata['availability_zone']
        return wanted == (host['zone'] or config['default_zone'])
    if name == 'ComputeFilter':
        return host['status'] == 'enabled' and \
            host['maintenance'] == 'off_maintenance'
    if name == 'isolate_aggregates':
        for agg in aggs:
            for key, value in agg['metadata'].items():
                if key.startswith('trait:') and value == 'required' and \
                        key[6:] not in traits:
                    return False
        return True
    if name == 'AggregateInstanceExtraSpecsFilter':
        specs = request.get('flavor', {}).get('extra_specs', {})
        for spec_key, spec in specs.items():
            if ':' in spec_key:
                scope, key = spec_key.split(':', 1)
                if scope != _SCOPE:
                    continue
            else:
                key = spec_key
            if key not in metadata:
                return False
            matched = False
            for value in metadata[key]:
                try:
                    if nova_match(value, spec):
                        matched = True
                except _Raises:
                    pass
            if not matched:
                return False
        return True
    if name == 'AggregateImagePropertiesIsolation':
        prefix = None
        if config['namespace']:
            prefix = config['namespace'] + config['separator']
        for key, allowed in metadata.items():
            if prefix and not key.startswith(prefix):
                continue
            if key not in _IMAGE_FIELDS:
                continue
            value = image.get(key)
            if value and str(value) not in allowed:
                return False
        return True
    if name == 'AggregateMultiTenancyIsolation':
        tenants = set()
        for key, values in metadata.items():
            if key.startswith('filter_tenant_id'):
                tenants |= values
        return not tenants or request['project_id'] in tenants
    if name == 'AggregateTypeAffinityFilter':
        values = _raw(aggs, 'instance_type')
        if not values:
            return True
        flavor = request.get('flavor', {}).get('name')
        return any(flavor in _split(value) for value in values)
    if name in ('AggregateNumInstancesFilter', 'NumInstancesFilter'):
        limit = config['max_instances_per_host']
        values = _raw(aggs, 'max_instances_per_host')
        if name == 'AggregateNumInstancesFilter' and values:
            try:
                limit = min(int(value) for value in values)
            except ValueError:
                limit = config['max_instances_per_host']
        return host['guests'] < limit
    return True


def filter_order(config):
    """The filters that run, in order."""
    order = ['AvailabilityZoneFilter', 'ComputeFilter']
    if config['isolate']:
        order.append('isolate_aggregates')
    for name in config['enabled_filters']:
        if name not in order:
            order.append(name)
    return order


def evaluate(layout, request, config):
    image, traits = _image(request.get('image', {}).get('properties', {}))
    for key, value in request.get('flavor', {}).get('extra_specs',
                                                    {}).items():
        head, _, rest = key.partition(':')
        if head.startswith('trait') and value == 'required' and \
                (head == 'trait' or head[5:].replace('_', 'a').replace(
                    '-', 'a').isalnum()):
            traits.add(rest)
    accepted, rejected = [], []
    for host in sorted(layout['hosts'], key=lambda h: h['name']):
        aggs = [agg for agg in sorted(layout['aggregates'],
                                      key=lambda a: a['id'])
                if host['name'] in agg['hosts']]
        refused_by = None
        for name in filter_order(config):
            if not _passes(name, host, aggs, request, config, image, traits):
                refused_by = name
                break
        if refused_by:
            rejected.append((host['name'], refused_by))
        else:
            zones = sorted(agg['metadata']['availability_zone']
                           for agg in aggs
                           if 'availability_zone' in agg['metadata'])
            zone = zones[0] if zones else (host['zone'] or
                                           config['default_zone'])
            accepted.append((host['name'], zone,
                             [agg['id'] for agg in aggs]))
    return {'hosts': accepted, 'rejected': rejected}
