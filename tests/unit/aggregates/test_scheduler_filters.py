"""Nova's aggregate filters, one table per filter: each row a host's
aggregates (metadata), a request and whether the host passes, with the
edge cases Nova's bug history is made of (a key missing on the host's
aggregates, keys of another scope, numbers against strings, whitespace in
comma lists, the case of keys and values).  The rules themselves are in
``nova_aggregates/aggregates/scheduler_filters.py``; what Nova's own code
answers for the same cases is checked by
``tests/functional/nova/test_host_matching_parity.py``."""

import testtools

from nova_aggregates.aggregates import scheduler_filters as sf
from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from tests import fixtures as na_fixtures


def host(*metadata, name='host1', default_zone='nova', guests=0, **values):
    """A host in one aggregate per dict of ``metadata`` (ids 1, 2, ...)."""
    aggregates = sf.Aggregates(
        sf.Aggregate(number, 'agg%d' % number, dict(meta))
        for number, meta in enumerate(metadata, 1))
    return sf.HostState(name, aggregates, default_zone=default_zone,
                        guests=guests, **values)


def request(extra_specs=None, image=None, **values):
    return sf.Request(extra_specs=extra_specs,
                      image=sf.Image(image or {}), **values)


class FilterTable:
    """Mixed into a TestCase that sets ``make`` (the filter) and ``CASES``:
    (description, host, request, passes)."""

    CASES = ()

    def make(self):
        raise NotImplementedError()

    def test_table(self):
        for description, state, req, passes in self.CASES:
            reason = self.make().reject(state, req)
            self.assertEqual(passes, reason is None,
                             '%s: %s' % (description, reason))
            if reason is not None:
                self.assertIsInstance(reason, str)
                self.assertTrue(reason.strip(), description)


class TestKeptValues(testtools.TestCase):
    """Aggregates outlive a request (host matching keeps them while they
    are unchanged): what they keep is bounded by their metadata, whatever
    keys requests ask for."""

    def test_only_keys_an_aggregate_has_are_kept(self):
        state = host({'gpu': 'true, false'}, {'gpu': 'x', 'ssd': 'yes'})
        filter_ = sf.AggregateInstanceExtraSpecsFilter()
        for number in range(1000):
            self.assertIsNotNone(filter_.reject(state, request(
                {'key%d' % number: 'v'})))
        self.assertEqual(frozenset({'true', 'false', 'x'}),
                         state.aggregates.get('gpu'))
        self.assertIsNone(state.aggregates.get('nope'))
        self.assertEqual({'gpu'}, set(state.aggregates._values))
        for agg in state.aggregates.members:
            self.assertLessEqual(set(agg._split), set(agg.metadata))


class TestMatch(testtools.TestCase):
    """Nova's operator grammar (extra_specs_ops.match)."""

    CASES = [
        # value, requirement, result (None: Nova's comparison raises)
        ('5', '= 4', True), ('4', '= 4', True), ('3', '= 4', False),
        ('4.0', '== 4', True), ('4', '!= 4', False), ('5', '!= 4', True),
        ('4', '>= 4', True), ('3', '>= 4', False), ('4', '<= 4', True),
        ('5', '<= 4', False),
        # numbers against strings: 10 >= 9 as a number, not as a string
        ('10', '>= 9', True), ('10', 's>= 9', False), ('10', 's< 9', True),
        ('1e3', '= 999', True), ('1_000', '= 999', True),
        ('nan', '== nan', False), (' 5 ', '= 4', True),
        ('lots', '= 4', None), ('5', '= four', None), ('', '= 1', None),
        # an operator without operand never matches
        ('4', '=', False), ('x', 's==', False), ('x', '<in>', False),
        ('x', '<all-in>', False),
        # strings
        ('ssd', 's== ssd', True), ('SSD', 's== ssd', False),
        ('a', 's!= b', True), ('b', 's!= b', False), ('a', 's< b', True),
        ('b', 's<= b', True), ('c', 's> b', True), ('b', 's>= b', True),
        ('a', 's> b', False),
        ('fast-ssd', '<in> ssd', True), ('hdd', '<in> ssd', False),
        ('avx2 sse4', '<all-in> avx2 sse4', True),
        ('avx2', '<all-in> avx2 sse4', False),
        ('b', '<or> a <or> b', True), ('c', '<or> a <or> b', False),
        ('x', '<or> x', True), ('b', '<or> a b', False),
        ('<or>', '<or>', None),
        # anything else is one whole string
        ('true', 'true', True), ('true', 'True', False),
        ('foo bar', 'foo bar', True), ('foo', 'foo bar', False),
        ('', '', True), ('x', '', False), ('5', '> 4', False),
        ('> 4', '> 4', True), ('4', '  =  4  ', True),
    ]

    def test_operators(self):
        for value, requirement, expected in self.CASES:
            if expected is None:
                self.assertRaises(sf.NotComparable, sf.match, value,
                                  requirement)
            else:
                self.assertEqual(expected, sf.match(value, requirement),
                                 (value, requirement))

    def test_every_operator_of_nova_is_known(self):
        self.assertEqual(
            {'=', '==', '!=', '>=', '<=', 's==', 's!=', 's<', 's<=', 's>',
             's>=', '<in>', '<all-in>', '<or>'}, set(sf.OPERATORS))

    def test_explanations(self):
        self.assertEqual('=true', sf.explain('true'))
        self.assertEqual(' ">= 4", a number at least 4', sf.explain('>= 4'))
        self.assertEqual(' "<or> a <or> b", one of a or b',
                         sf.explain('<or> a <or> b'))


SCOPED = 'aggregate_instance_extra_specs:'


class TestAggregateInstanceExtraSpecsFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.AggregateInstanceExtraSpecsFilter()

    CASES = [
        ('no extra specs', host(), request(), True),
        ('scoped key', host({'hw:gpu': 'true'}),
         request({SCOPED + 'hw:gpu': 'true'}), True),
        ('scoped key, other value', host({'hw:gpu': 'true'}),
         request({SCOPED + 'hw:gpu': 'false'}), False),
        ('unscoped key', host({'gpu': 'true'}), request({'gpu': 'true'}),
         True),
        ('unscoped key missing on the aggregates', host({'ssd': 'true'}),
         request({'gpu': 'true'}), False),
        ('host in no aggregate', host(), request({'gpu': 'true'}), False),
        ('scoped key missing', host({'gpu': 'true'}),
         request({SCOPED + 'hw:gpu': 'true'}), False),
        ('keys of another scope are not this filter\'s', host(),
         request({'hw:cpu_policy': 'dedicated', 'capabilities:x': 'y',
                  'trait:HW_CPU_X86_AVX': 'required', 'resources:VCPU': '2',
                  'quota:cpu_shares': '1'}), True),
        ('a scope differing in case is another scope', host(),
         request({'AGGREGATE_INSTANCE_EXTRA_SPECS:gpu': 'true'}), True),
        ('keys compare case-sensitively', host({'GPU': 'true'}),
         request({'gpu': 'true'}), False),
        ('values compare case-sensitively', host({'gpu': 'True'}),
         request({'gpu': 'true'}), False),
        ('the scope alone names the empty key', host({'gpu': 'true'}),
         request({SCOPED: 'true'}), False),
        ('values of several aggregates are unioned',
         host({'gpu': 'false'}, {'gpu': 'true'}), request({'gpu': 'true'}),
         True),
        ('comma lists are split and stripped', host({'disk': 'ssd , nvme'}),
         request({'disk': 'nvme'}), True),
        ('a comma list is no longer the whole value',
         host({'disk': 'ssd,nvme'}), request({'disk': 'ssd,nvme'}), False),
        ('an empty item of a comma list', host({'disk': 'ssd,,nvme'}),
         request({'disk': ''}), True),
        ('numbers compare as numbers', host({'ram': '10'}),
         request({'ram': '>= 9'}), True),
        ('... and as strings with s>=', host({'ram': '10'}),
         request({'ram': 's>= 9'}), False),
        ('= is at least', host({'ram': '4096'}), request({'ram': '= 2048'}),
         True),
        ('a plain number is a string', host({'ram': '4096.0'}),
         request({'ram': '4096'}), False),
        ('a value that is no number', host({'ram': 'lots'}),
         request({'ram': '>= 4'}), False),
        ('one value of the union matches', host({'ram': 'lots'}, {'ram': '8'}),
         request({'ram': '>= 4'}), True),
        ('every spec must match', host({'gpu': 'true', 'ram': '2'}),
         request({'gpu': 'true', 'ram': '>= 4'}), False),
        ('<in> against each value', host({'cpu': 'avx2,sse4'}),
         request({'cpu': '<in> avx'}), True),
        ('<or>', host({'tier': 'gold'}),
         request({'tier': '<or> silver <or> gold'}), True),
        ('a bare <or>', host({'tier': 'gold'}), request({'tier': '<or>'}),
         False),
    ]

    def test_reasons_name_the_aggregates(self):
        reason = self.make().reject(
            host({'hw:gpu': 'true'}), request({SCOPED + 'hw:gpu': 'false'}))
        self.assertEqual('aggregate 1 (agg1) has hw:gpu=true; the flavor asks '
                         'hw:gpu=false (its extra spec '
                         'aggregate_instance_extra_specs:hw:gpu)', reason)
        reason = self.make().reject(host({'ssd': '1'}, {'x': '2'}),
                                    request({'gpu': 'true'}))
        self.assertEqual('the flavor asks gpu=true; no aggregate of the host '
                         'has metadata key gpu (it is in aggregate 1 (agg1), '
                         'aggregate 2 (agg2))', reason)
        reason = self.make().reject(host({'ram': 'lots'}),
                                    request({'ram': '>= 4'}))
        self.assertIn('lots is not a number: Nova\'s scheduler fails the '
                      'whole request with an error on it', reason)


class ImageIsolationTable(FilterTable):

    namespace = None
    separator = '.'

    def make(self):
        return sf.AggregateImagePropertiesIsolation(self.namespace,
                                                    self.separator)


class TestAggregateImagePropertiesIsolation(ImageIsolationTable,
                                            testtools.TestCase):

    CASES = [
        ('no aggregate', host(), request(image={'os_distro': 'ubuntu'}),
         True),
        ('the image has the value', host({'os_distro': 'ubuntu'}),
         request(image={'os_distro': 'ubuntu'}), True),
        ('the image has another value', host({'os_distro': 'ubuntu'}),
         request(image={'os_distro': 'windows'}), False),
        ('an image without the property passes',
         host({'os_distro': 'ubuntu'}), request(image={}), True),
        ('comma lists, whitespace stripped',
         host({'os_distro': 'ubuntu, centos'}),
         request(image={'os_distro': 'centos'}), True),
        ('unioned over the aggregates',
         host({'os_distro': 'ubuntu'}, {'os_distro': 'centos'}),
         request(image={'os_distro': 'centos'}), True),
        ('values compare case-sensitively', host({'os_distro': 'Ubuntu'}),
         request(image={'os_distro': 'ubuntu'}), False),
        ('a key that is no image property restricts nothing',
         host({'gpu': 'true'}), request(image={'gpu': 'false'}), True),
        ('legacy property names are read as the current ones',
         host({'hw_architecture': 'aarch64'}),
         request(image={'architecture': 'x86_64'}), False),
        ('... and a legacy name as a key restricts nothing',
         host({'architecture': 'aarch64'}),
         request(image={'architecture': 'x86_64'}), True),
        ('integers are coerced', host({'hw_cpu_cores': '4'}),
         request(image={'hw_cpu_cores': ' 4'}), True),
        ('zero is a property the image lacks', host({'hw_cpu_cores': '4'}),
         request(image={'hw_cpu_cores': '0'}), True),
        ('booleans compare as "True"', host({'hw_qemu_guest_agent': 'true'}),
         request(image={'hw_qemu_guest_agent': 'yes'}), False),
        ('... which the aggregate may hold',
         host({'hw_qemu_guest_agent': 'True'}),
         request(image={'hw_qemu_guest_agent': 'yes'}), True),
        ('a false boolean is a property the image lacks',
         host({'hw_qemu_guest_agent': 'True'}),
         request(image={'hw_qemu_guest_agent': 'no'}), True),
        ('required traits are a list', host({'traits_required': 'X'}),
         request(image={'trait:X': 'required'}), False),
        ('vmware_adaptertype sets the disk bus', host({'hw_disk_bus': 'ide'}),
         request(image={'vmware_adaptertype': 'lsiLogic'}), False),
    ]

    def test_a_bad_integer_is_an_invalid_image(self):
        exc = self.assertRaises(exception.InvalidImageProperty, sf.Image,
                                {'hw_cpu_cores': 'four'})
        self.assertIn('hw_cpu_cores', str(exc))
        self.assertRaises(exception.InvalidImageProperty, sf.Image,
                          {'hw_numa_mem.0': 'x'})

    def test_every_image_property_of_nova(self):
        # Nova 34's ImageMetaProps fields: 20 booleans, 14 integers, 5
        # lists, 47 strings and enumerations.
        self.assertEqual(86, len(sf.IMAGE_PROPERTIES))


class TestImageIsolationNamespace(ImageIsolationTable, testtools.TestCase):

    namespace = 'hw'
    separator = '_'

    CASES = [
        ('keys in the namespace are compared', host({'hw_disk_bus': 'scsi'}),
         request(image={'hw_disk_bus': 'ide'}), False),
        ('keys outside it are not', host({'os_distro': 'ubuntu'}),
         request(image={'os_distro': 'windows'}), True),
    ]


class TestImageIsolationDottedNamespace(ImageIsolationTable,
                                        testtools.TestCase):
    """A namespace with the default separator: the keys it selects are no
    image property names, so (as in Nova since Liberty) nothing is
    refused."""

    namespace = 'isolation'

    CASES = [
        ('the namespaced key', host({'isolation.os_distro': 'ubuntu'}),
         request(image={'isolation.os_distro': 'windows',
                        'os_distro': 'windows'}), True),
        ('the plain key is outside the namespace',
         host({'os_distro': 'ubuntu'}),
         request(image={'os_distro': 'windows'}), True),
    ]


class TestAggregateMultiTenancyIsolation(FilterTable, testtools.TestCase):

    def make(self):
        return sf.AggregateMultiTenancyIsolation()

    CASES = [
        ('no aggregate', host(), request(project_id='p1'), True),
        ('no tenant key', host({'ssd': 'true'}), request(project_id='p2'),
         True),
        ('the project', host({'filter_tenant_id': 'p1'}),
         request(project_id='p1'), True),
        ('another project', host({'filter_tenant_id': 'p1'}),
         request(project_id='p2'), False),
        ('any suffix', host({'filter_tenant_id': 'p1',
                             'filter_tenant_id_2': 'p2'}),
         request(project_id='p2'), True),
        ('comma lists with whitespace',
         host({'filter_tenant_idX': 'p1 , p2'}), request(project_id='p2'),
         True),
        ('one restricted aggregate restricts the host',
         host({'filter_tenant_id': 'p1'}, {'ssd': 'true'}),
         request(project_id='p2'), False),
        ('restrictions of several aggregates are unioned',
         host({'filter_tenant_id': 'p1'}, {'filter_tenant_id': 'p2'}),
         request(project_id='p2'), True),
        ('the prefix is case-sensitive', host({'FILTER_TENANT_ID': 'p1'}),
         request(project_id='p2'), True),
        ('project ids compare exactly', host({'filter_tenant_id': 'P1'}),
         request(project_id='p1'), False),
    ]


class TestAggregateTypeAffinityFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.AggregateTypeAffinityFilter()

    CASES = [
        ('no instance_type', host({'ssd': 'true'}),
         request(flavor_name='m1.small'), True),
        ('the flavor', host({'instance_type': 'm1.small'}),
         request(flavor_name='m1.small'), True),
        ('another flavor', host({'instance_type': 'm1.small'}),
         request(flavor_name='m1.large'), False),
        ('comma lists with whitespace',
         host({'instance_type': 'm1.small , m1.large'}),
         request(flavor_name='m1.large'), True),
        ('one aggregate naming the flavor is enough',
         host({'instance_type': 'm1.small'}, {'instance_type': 'm1.large'}),
         request(flavor_name='m1.large'), True),
        ('no flavor name', host({'instance_type': 'm1.small'}), request(),
         False),
        ('names compare exactly', host({'instance_type': 'M1.small'}),
         request(flavor_name='m1.small'), False),
        ('the key is instance_type only', host({'flavor': 'm1.small'}),
         request(flavor_name='m1.large'), True),
    ]


class TestAggregateNumInstancesFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.AggregateNumInstancesFilter(50)

    CASES = [
        ('the option, below', host(guests=49), request(), True),
        ('the option, reached', host(guests=50), request(), False),
        ('the aggregate\'s value', host({'max_instances_per_host': '5'},
                                        guests=4), request(), True),
        ('the aggregate\'s value, reached',
         host({'max_instances_per_host': '5'}, guests=5), request(), False),
        ('the smallest value wins',
         host({'max_instances_per_host': '5'},
              {'max_instances_per_host': '3'}, guests=3), request(), False),
        ('whitespace around an integer',
         host({'max_instances_per_host': ' 7 '}, guests=6), request(), True),
        ('a bad value: the option applies',
         host({'max_instances_per_host': 'abc'},
              {'max_instances_per_host': '2'}, guests=10), request(), True),
        ('a decimal is a bad value',
         host({'max_instances_per_host': '2.0'}, guests=10), request(),
         True),
        ('the value is not comma-split',
         host({'max_instances_per_host': '2,3'}, guests=10), request(),
         True),
        ('guests that could not be counted',
         host(guests=exception.HypervisorUnreachable(host='host1',
                                                     reason='down')),
         request(), False),
    ]


class TestNumInstancesFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.NumInstancesFilter(3)

    CASES = [
        ('below', host(guests=2), request(), True),
        ('reached', host(guests=3), request(), False),
        ('aggregates do not matter',
         host({'max_instances_per_host': '100'}, guests=3), request(), False),
    ]


class TestAvailabilityZoneFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.AvailabilityZoneFilter()

    CASES = [
        ('no zone asked', host({'availability_zone': 'az1'}), request(),
         True),
        ('the aggregate\'s zone', host({'availability_zone': 'az1'}),
         request(availability_zone='az1'), True),
        ('another zone', host({'availability_zone': 'az1'}),
         request(availability_zone='az2'), False),
        ('no zone aggregate: the default zone',
         host({'ssd': 'true'}, default_zone='nova'),
         request(availability_zone='nova'), True),
        ('no zone aggregate: not another',
         host(default_zone='az-registered'), request(availability_zone='nova'),
         False),
        ('the aggregate\'s zone replaces the default',
         host({'availability_zone': 'az1'}, default_zone='nova'),
         request(availability_zone='nova'), False),
        ('comma lists', host({'availability_zone': 'az1, az2'}),
         request(availability_zone='az2'), True),
        ('one aggregate with a zone, one without',
         host({'availability_zone': 'az1'}, {'ssd': 'true'}),
         request(availability_zone='az1'), True),
        ('zones compare exactly', host({'availability_zone': 'AZ1'}),
         request(availability_zone='az1'), False),
    ]


class TestComputeFilter(FilterTable, testtools.TestCase):

    def make(self):
        return sf.ComputeFilter()

    CASES = [
        ('in service', host(), request(), True),
        ('disabled', host(status='disabled'), request(), False),
        ('disabled with a reason',
         host(status='disabled', disabled_reason='fan'), request(), False),
        ('in maintenance', host(status='disabled',
                                maintenance='on_maintenance'),
         request(), False),
    ]

    def test_reasons(self):
        self.assertEqual('the host is disabled: fan', self.make().reject(
            host(status='disabled', disabled_reason='fan'), request()))
        self.assertIn('in maintenance', self.make().reject(
            host(status='disabled', maintenance='on_maintenance'), request()))


class TestIsolateAggregates(FilterTable, testtools.TestCase):

    def make(self):
        return sf.IsolateAggregates()

    CASES = [
        ('no trait metadata', host({'ssd': 'true'}), request(), True),
        ('an isolating aggregate, trait not required',
         host({'trait:HW_CPU_X86_SGX': 'required'}), request(), False),
        ('required by the flavor',
         host({'trait:HW_CPU_X86_SGX': 'required'}),
         request({'trait:HW_CPU_X86_SGX': 'required'}), True),
        ('required by a request group of the flavor',
         host({'trait:HW_CPU_X86_SGX': 'required'}),
         request({'trait1:HW_CPU_X86_SGX': 'required'}), True),
        ('required by the image',
         host({'trait:HW_CPU_X86_SGX': 'required'}),
         request(image={'trait:HW_CPU_X86_SGX': 'required'}), True),
        ('forbidden is not required',
         host({'trait:HW_CPU_X86_SGX': 'required'}),
         request({'trait:HW_CPU_X86_SGX': 'forbidden'}), False),
        ('only the value "required" isolates',
         host({'trait:HW_CPU_X86_SGX': 'Required'}), request(), True),
        ('every isolating trait must be required',
         host({'trait:A': 'required', 'trait:B': 'required'}),
         request({'trait:A': 'required'}), False),
        ('... over every aggregate',
         host({'trait:A': 'required'}, {'trait:B': 'required'}),
         request({'trait:A': 'required', 'trait:B': 'required'}), True),
        ('trait names compare exactly', host({'trait:a': 'required'}),
         request({'trait:A': 'required'}), False),
        ('the aggregate_instance_extra_specs scope is no trait',
         host({'trait:A': 'required'}),
         request({SCOPED + 'trait:A': 'required'}), False),
    ]


class TestChain(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = self.useFixture(na_fixtures.ConfFixture())

    def names(self):
        return [f.name for f in sf.chain(na_conf.CONF)]

    def test_nova_default(self):
        self.assertEqual(['AvailabilityZoneFilter', 'ComputeFilter'],
                         self.names())

    def test_in_the_configured_order_after_the_mandatory_ones(self):
        self.conf.config(group='filter_scheduler', enabled_filters=[
            'AggregateTypeAffinityFilter', 'ComputeFilter',
            'NUMATopologyFilter', 'AggregateInstanceExtraSpecsFilter',
            'AggregateTypeAffinityFilter', 'AvailabilityZoneFilter'])
        self.assertEqual(['AvailabilityZoneFilter', 'ComputeFilter',
                          'AggregateTypeAffinityFilter',
                          'AggregateInstanceExtraSpecsFilter'], self.names())
        self.conf.config(group='scheduler',
                         enable_isolated_aggregate_filtering=True)
        self.assertEqual('isolate_aggregates', self.names()[2])

    def test_options_reach_the_filters(self):
        self.conf.config(group='filter_scheduler', max_instances_per_host=7,
                         enabled_filters=['AggregateNumInstancesFilter',
                                          'AggregateImagePropertiesIsolation'],
                         aggregate_image_properties_isolation_namespace='hw',
                         aggregate_image_properties_isolation_separator='_')
        chain = sf.chain(na_conf.CONF)
        self.assertEqual(7, chain[2].default)
        self.assertEqual('hw_', chain[3].prefix)

    def test_unknown_names_are_refused_as_nova_refuses_them(self):
        for name in ('RamFilter', 'computefilter', 'Nope'):
            self.conf.config(group='filter_scheduler',
                             enabled_filters=['ComputeFilter', name])
            exc = self.assertRaises(exception.SchedulerFilterNotFound,
                                    sf.chain, na_conf.CONF)
            self.assertIn(name, str(exc))

    def test_every_filter_of_nova_is_accepted(self):
        names = sorted(set(sf.EVALUATED) | sf.NOT_EVALUATED)
        self.conf.config(group='filter_scheduler', enabled_filters=names)
        self.assertEqual(
            ['AvailabilityZoneFilter', 'ComputeFilter',
             'AggregateImagePropertiesIsolation',
             'AggregateInstanceExtraSpecsFilter',
             'AggregateMultiTenancyIsolation', 'AggregateNumInstancesFilter',
             'AggregateTypeAffinityFilter', 'AllHostsFilter',
             'NumInstancesFilter'], self.names())
