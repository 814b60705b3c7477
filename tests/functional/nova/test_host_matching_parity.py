"""Host matching against Nova itself: Nova 34's own filter classes and
operators (``nova.scheduler.filters``, ``ResourceRequest`` for the traits
``isolate_aggregates`` reads, ``ImageMetaProps.from_dict`` for the image)
run in the Nova venv's interpreter on generated cases, and
``scheduler_filters`` on the same: they must agree case by case, filter by
filter.  Where Nova's comparison raises (a value that is no number), Nova's
scheduler fails the request; host matching refuses the host, unless
another value of the host's aggregates matches (then which one Nova's set
iteration meets first decides whether Nova raises at all): such cases are
counted, not compared.

AvailabilityZoneFilter is no longer in Nova 34 and ComputeFilter asks the
service group API: their rules are the contract's, checked in
tests/functional/test_host_matching.py.
"""

import json
import random
import subprocess
import textwrap

import testtools

from nova_aggregates.aggregates import scheduler_filters as sf
from nova_aggregates import exception
from tests.support import nova

SEED = 4242
CASES = 1500

_NOVA_SIDE = textwrap.dedent('''
    import json
    import sys
    import types
    import warnings

    warnings.simplefilter('ignore')
    import nova.conf
    from nova import objects
    objects.register_all()
    from nova.scheduler.filters import aggregate_image_properties_isolation
    from nova.scheduler.filters import aggregate_instance_extra_specs
    from nova.scheduler.filters import aggregate_multitenancy_isolation
    from nova.scheduler.filters import extra_specs_ops
    from nova.scheduler.filters import num_instances_filter
    from nova.scheduler.filters import type_filter
    from nova.scheduler import utils as scheduler_utils

    CONF = nova.conf.CONF
    CONF([], project='nova', default_config_files=[])
    FILTERS = {
        'AggregateInstanceExtraSpecsFilter':
            aggregate_instance_extra_specs.AggregateInstanceExtraSpecsFilter,
        'AggregateImagePropertiesIsolation':
            aggregate_image_properties_isolation.
            AggregateImagePropertiesIsolation,
        'AggregateMultiTenancyIsolation':
            aggregate_multitenancy_isolation.AggregateMultiTenancyIsolation,
        'AggregateTypeAffinityFilter': type_filter.AggregateTypeAffinityFilter,
        'AggregateNumInstancesFilter':
            num_instances_filter.AggregateNumInstancesFilter,
        'NumInstancesFilter': num_instances_filter.NumInstancesFilter,
    }

    def outcome(call):
        try:
            return bool(call())
        except Exception:
            return 'raises'

    cases = json.load(sys.stdin)
    answers = {'match': [outcome(lambda: extra_specs_ops.match(v, s))
                         for v, s in cases['match']], 'filters': []}
    for case in cases['filters']:
        group = 'filter_scheduler'
        CONF.set_override('max_instances_per_host', case['max'], group)
        CONF.set_override('aggregate_image_properties_isolation_namespace',
                          case['namespace'], group)
        CONF.set_override('aggregate_image_properties_isolation_separator',
                          case['separator'], group)
        host = types.SimpleNamespace(
            host='host1', num_instances=case['guests'],
            aggregates=[types.SimpleNamespace(metadata=metadata)
                        for metadata in case['aggregates']])
        try:
            image = objects.ImageMeta(properties=objects.ImageMetaProps
                                      .from_dict(dict(case['image'])))
        except ValueError:
            answers['filters'].append('invalid image')
            continue
        flavor = objects.Flavor(name=case['flavor'],
                                extra_specs=case['extra_specs'], vcpus=1,
                                memory_mb=512, root_gb=1, ephemeral_gb=0,
                                swap=0)
        spec = objects.RequestSpec(flavor=flavor, image=image,
                                   project_id=case['project'], is_bfv=False)
        result = {name: outcome(lambda: cls().host_passes(host, spec))
                  for name, cls in FILTERS.items()}
        # isolate_aggregates: the traits Nova's ResourceRequest requires,
        # and the aggregates its query (key LIKE 'trait:...', value =
        # 'required', key not among the required) forbids.
        traits = scheduler_utils.ResourceRequest.from_request_spec(
            spec).all_required_traits
        required = ['trait:' + trait for trait in traits]
        result['isolate_aggregates'] = not any(
            key.startswith('trait:') and value == 'required' and
            key not in required
            for metadata in case['aggregates']
            for key, value in metadata.items())
        answers['filters'].append(result)
    print(json.dumps(answers))
''')

VALUES = ['true', 'false', 'True', ' true ', 'true,false', 'ssd, nvme',
          'ssd,,nvme', '', '4', '4.0', ' 4 ', '10', '9', '1e3', '1_000',
          'nan', 'inf', 'lots', '-1', 'avx2 sse4', 'avx2,sse4', 'a', 'b',
          'fast-ssd', '<or>', '= 4', '\u0664', 'x y z']
SPECS = ['true', 'True', 'ssd', 'nvme', '', '= 4', '== 4', '!= 4', '>= 9',
         '<= 9', 's== 4', 's!= 4', 's< b', 's<= b', 's> b', 's>= 10',
         '<in> ssd', '<in> avx', '<all-in> avx2 sse4', '<or> a <or> b',
         '<or> ssd', '<or>', '<or> a b', '=', 's==', '<in>', '<all-in>',
         '= lots', '> 4', 'x y z', '  =  4  ', '= 1e2', '== nan']
KEYS = ['gpu', 'ram', 'disk', 'cpu', 'hw:gpu', 'GPU', 'availability_zone',
        'os_distro', 'hw_cpu_cores', 'hw_qemu_guest_agent',
        'hw_architecture', 'architecture', 'hw_disk_bus', 'hw_vm_mode',
        'traits_required', 'img_hv_type', 'os.os_distro',
        'filter_tenant_id', 'filter_tenant_id_2', 'FILTER_TENANT_ID',
        'instance_type', 'max_instances_per_host', 'trait:HW_SGX',
        'trait:HW_AVX', 'trait:hw_sgx']
META_VALUES = {
    'os_distro': ['ubuntu', 'ubuntu, centos', 'windows', ''],
    'os.os_distro': ['ubuntu'],
    'hw_cpu_cores': ['4', '8', '4, 8'],
    'hw_qemu_guest_agent': ['true', 'True', 'False'],
    'hw_architecture': ['x86_64', 'aarch64'], 'architecture': ['x86_64'],
    'hw_disk_bus': ['ide', 'scsi'], 'hw_vm_mode': ['hvm', 'xen'],
    'traits_required': ["['HW_AVX']", 'HW_AVX'],
    'img_hv_type': ['xen', 'kvm'],
    'filter_tenant_id': ['p1', 'p1, p2', ' p2'],
    'filter_tenant_id_2': ['p3'], 'FILTER_TENANT_ID': ['p9'],
    'instance_type': ['m1.small', 'm1.small , m1.large', 'M1.SMALL'],
    'max_instances_per_host': ['1', '2', ' 3 ', 'abc', '2.0', '2,3', '0',
                               '\u0663'],
    'trait:HW_SGX': ['required', 'Required', 'preferred'],
    'trait:HW_AVX': ['required'], 'trait:hw_sgx': ['required'],
}
EXTRA_SPEC_KEYS = ['gpu', 'ram', 'disk', 'cpu', 'GPU', 'hw:gpu',
                   'aggregate_instance_extra_specs:gpu',
                   'aggregate_instance_extra_specs:hw:gpu',
                   'aggregate_instance_extra_specs:ram',
                   'aggregate_instance_extra_specs:',
                   'AGGREGATE_INSTANCE_EXTRA_SPECS:gpu', 'hw:cpu_policy',
                   'capabilities:cpu', 'trait:HW_SGX', 'trait1:HW_SGX',
                   'trait_x:HW_AVX', 'traits:HW_AVX', 'trait:HW_AVX',
                   'resources:VCPU', 'missing']
TRAIT_VALUES = ['required', 'forbidden', 'Required']
NOVA_SPECS = {'hw:cpu_policy': ['dedicated', 'shared'],
              'resources:VCPU': ['2']}
IMAGE = {
    'os_distro': ['ubuntu', 'centos', 'windows'],
    'hw_cpu_cores': ['4', ' 8', '0', 'four'],
    'hw_qemu_guest_agent': ['yes', 'no', 'true', 'maybe'],
    'architecture': ['x86_64', 'aarch64'],
    'hw_architecture': ['aarch64'],
    'vmware_adaptertype': ['ide', 'lsiLogic'],
    'vm_mode': ['hvm', 'xen'], 'hypervisor_type': ['xen'],
    'trait:HW_AVX': ['required', 'forbidden'], 'trait:HW_SGX': ['required'],
    'gpu': ['true'], 'hw_numa_mem.0': ['1024', 'x'],
}


def operator_cases(rng):
    cases = [(value, spec) for value in VALUES for spec in SPECS]
    rng.shuffle(cases)
    return cases


def filter_case(rng):
    aggregates = []
    for _ in range(rng.randint(0, 3)):
        metadata = {}
        for key in rng.sample(KEYS, rng.randint(0, 5)):
            metadata[key] = rng.choice(META_VALUES.get(key, VALUES))
        aggregates.append(metadata)
    specs = {}
    for key in rng.sample(EXTRA_SPEC_KEYS, rng.randint(0, 3)):
        # Nova's flavor API refuses other values of Nova's own keys.
        specs[key] = rng.choice(NOVA_SPECS.get(key) or (
            TRAIT_VALUES if 'trait' in key.lower() else SPECS))
    image = {}
    for key in rng.sample(sorted(IMAGE), rng.randint(0, 3)):
        image[key] = rng.choice(IMAGE[key])
    return {
        'aggregates': aggregates, 'extra_specs': specs, 'image': image,
        'flavor': rng.choice([None, 'm1.small', 'm1.large']),
        'project': rng.choice(['p1', 'p2', 'p3']),
        'guests': rng.randint(0, 4), 'max': rng.choice([1, 3, 50]),
        'namespace': rng.choice([None, None, 'hw', 'os', '']),
        'separator': rng.choice(['.', '_']),
    }


def ours(case):
    """Our answer for one case: {filter: passes}, or 'invalid image'."""
    try:
        image = sf.Image(case['image'])
    except exception.InvalidImageProperty:
        return 'invalid image'
    request = sf.Request(flavor_name=case['flavor'],
                         extra_specs=case['extra_specs'], image=image,
                         project_id=case['project'])
    state = sf.HostState('host1', sf.Aggregates(
        sf.Aggregate(number, 'agg%d' % number, metadata)
        for number, metadata in enumerate(case['aggregates'], 1)),
        guests=case['guests'])
    filters = [
        sf.AggregateInstanceExtraSpecsFilter(),
        sf.AggregateImagePropertiesIsolation(case['namespace'],
                                             case['separator']),
        sf.AggregateMultiTenancyIsolation(),
        sf.AggregateTypeAffinityFilter(),
        sf.AggregateNumInstancesFilter(case['max']),
        sf.NumInstancesFilter(case['max']),
        sf.IsolateAggregates(),
    ]
    return {f.name: f.reject(state, request) is None for f in filters}


def _ours_match(value, spec):
    try:
        return sf.match(value, spec)
    except sf.NotComparable:
        return 'raises'


class TestParityWithNova(testtools.TestCase):

    def setUp(self):
        super().setUp()
        nova.check_available()
        rng = random.Random(SEED)
        self.cases = {'match': operator_cases(rng),
                      'filters': [filter_case(rng) for _ in range(CASES)]}
        result = subprocess.run(
            [nova.PYTHON, '-c', _NOVA_SIDE], input=json.dumps(self.cases),
            capture_output=True, text=True, timeout=nova.COMMAND_TIMEOUT,
            cwd='/')
        self.assertEqual(0, result.returncode, result.stderr[-4000:])
        self.nova = json.loads(result.stdout)

    def test_operators(self):
        mismatches = [
            (value, spec, theirs, _ours_match(value, spec))
            for (value, spec), theirs in zip(self.cases['match'],
                                             self.nova['match'])
            if theirs != _ours_match(value, spec)]
        self.assertEqual([], mismatches)
        self.assertIn('raises', self.nova['match'])

    def test_filters(self):
        mismatches = []
        compared = uncertain = 0
        refusals = set()
        for case, theirs in zip(self.cases['filters'],
                                self.nova['filters']):
            mine = ours(case)
            if theirs == 'invalid image' or mine == 'invalid image':
                if theirs != mine:
                    mismatches.append((case, theirs, mine))
                continue
            for name, passes in theirs.items():
                if passes == 'raises':
                    # Nova's scheduler fails the request: we refuse the
                    # host unless another value matched.
                    uncertain += 1
                    continue
                compared += 1
                if passes != mine[name]:
                    mismatches.append((name, case, passes, mine[name]))
                elif not passes:
                    refusals.add(name)
        self.assertEqual([], mismatches[:10], '%d mismatches'
                         % len(mismatches))
        self.assertGreater(compared, 5 * CASES)
        self.assertLess(uncertain, compared / 10)
        self.assertEqual(
            {'AggregateInstanceExtraSpecsFilter',
             'AggregateImagePropertiesIsolation',
             'AggregateMultiTenancyIsolation', 'AggregateTypeAffinityFilter',
             'AggregateNumInstancesFilter', 'NumInstancesFilter',
             'isolate_aggregates'}, refusals)
