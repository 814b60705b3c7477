"""os-aggregates on the 2012 surface: ``/v1.1/{project}`` and
``/v2/{project}``.

The whole v2.1 suite runs here too (``SurfaceTests``), with the 2012 id rule
(a non-integer id is simply not found) and the extra ``operational_state``.
Then what only this surface speaks: XML request and response bodies in the
2012 generic form, ``.json``/``.xml`` suffixes, Accept, and XML faults.
"""

import json
from xml.etree import ElementTree

from tests import base
from tests.functional import test_aggregates_v21 as v21

XML = 'application/xml'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'


class LegacySurfaceTests(v21.SurfaceTests):

    BAD_ID_STATUS = 404
    BAD_ID_FAULT = 'itemNotFound'
    BAD_ID_MESSAGE = 'Aggregate abc could not be found.'
    EXTRA_FIELDS = frozenset(('operational_state',))

    def test_operational_state_of_a_logical_aggregate(self):
        agg = self.create('agg1', 'az1')
        self.assertEqual('created', agg['operational_state'])
        self.assertEqual('created', self.show(agg['id'])['operational_state'])
        body = self.act(agg['id'], 'add_host', {'host': 'host1'})
        self.assertEqual('active', body['aggregate']['operational_state'])
        self.assertEqual('active', self.show(agg['id'])['operational_state'])

    def test_no_uuid_even_when_a_microversion_is_asked(self):
        agg = self.create('agg1')
        response = self.request('GET', self.url('/%s' % agg['id']),
                                headers={'OpenStack-API-Version':
                                         'compute 2.41'})
        self.assertEqual(200, response.status_int)
        self.assertEqual(v21.FIELDS | self.EXTRA_FIELDS,
                         set(response.json['aggregate']))
        self.assertNotIn('OpenStack-API-Version', response.headers)

    def test_project_of_another_caller(self):
        self.create('agg1')
        other = self.PREFIX.rsplit('/', 1)[0] + '/other'
        for method, path, body in (
                ('GET', other + '/os-aggregates', None),
                ('POST', other + '/os-aggregates',
                 {'aggregate': {'name': 'agg2'}}),
                ('PUT', other + '/os-aggregates/1',
                 {'aggregate': {'name': 'agg2'}}),
                ('DELETE', other + '/os-aggregates/1', None),
                ('POST', other + '/os-aggregates/1/action',
                 {'add_host': {'host': 'host1'}}),
                ('GET', other + '/extensions', None)):
            self.assertRefused(method, path, body, 400, 'badRequest',
                               'Malformed request url')

    def test_no_project_in_the_url(self):
        root = self.PREFIX.rsplit('/', 1)[0]
        self.assertFault(self.request('GET', root + '/os-aggregates/1'), 404,
                         'itemNotFound', 'Unknown URL')


class TestAggregatesV11(LegacySurfaceTests, base.APITestCase):
    """``/v1.1/{project_id}/os-aggregates``."""

    PREFIX = '/v1.1/admin'


class TestAggregatesV2(LegacySurfaceTests, base.APITestCase):
    """``/v2/{project_id}/os-aggregates``."""

    PREFIX = '/v2/admin'


def _xml(response):
    return ElementTree.fromstring(response.body)


class TestLegacyXML(base.APITestCase):
    """XML in and out, as the 2012 generic (de)serializer spoke it."""

    PREFIX = '/v1.1/admin'

    def setUp(self):
        super().setUp()
        self.api.register_host('host1')
        self.api.register_host('host2')

    def url(self, suffix=''):
        return '%s/os-aggregates%s' % (self.PREFIX, suffix)

    def xml_request(self, method, path, body=None, expected=200, **kwargs):
        response = self.request(method, path, body,
                                content_type=XML if body else None, **kwargs)
        self.assertEqual(expected, response.status_int, response.body)
        return response

    def snapshot(self):
        return self.json_request('GET', '/v2.1/os-aggregates')['aggregates']

    def assertAggregateXML(self, node, fields):
        """``node`` is an ``<aggregate>``: one child per field, no
        namespace; returns {field: element}."""
        self.assertEqual('aggregate', node.tag)
        children = {child.tag: child for child in node}
        self.assertEqual(set(fields), set(children))
        return children

    # -- request bodies -----------------------------------------------------

    def test_create_with_attributes(self):
        response = self.xml_request(
            'POST', self.url(),
            '<aggregate name="agg1" availability_zone="az1"/>')
        self.assertEqual('application/json', response.content_type)
        agg = response.json['aggregate']
        self.assertEqual(('agg1', 'az1', 'created'),
                         (agg['name'], agg['availability_zone'],
                          agg['operational_state']))

    def test_create_with_child_elements_and_namespace(self):
        body = ('<aggregate xmlns="http://docs.openstack.org/compute/api/'
                'v1.1"><name>agg1</name><availability_zone>az1'
                '</availability_zone></aggregate>')
        agg = self.xml_request('POST', self.url(), body).json['aggregate']
        self.assertEqual(('agg1', 'az1'),
                         (agg['name'], agg['availability_zone']))

    def test_create_with_vendor_media_type(self):
        response = self.request('POST', self.url(), '<aggregate name="agg1"/>',
                                content_type='application/vnd.openstack.'
                                             'compute+xml')
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('agg1', response.json['aggregate']['name'])

    def test_update(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        agg = self.xml_request(
            'PUT', self.url('/1'),
            '<aggregate name="agg2" availability_zone="az2"/>').json
        self.assertEqual(('agg2', 'az2'),
                         (agg['aggregate']['name'],
                          agg['aggregate']['availability_zone']))

    def test_add_and_remove_host(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        agg = self.xml_request('POST', self.url('/1/action'),
                               '<add_host host="host1"/>').json['aggregate']
        self.assertEqual(['host1'], agg['hosts'])
        agg = self.xml_request('POST', self.url('/1/action'),
                               '<remove_host host="host1"/>').json
        self.assertEqual([], agg['aggregate']['hosts'])

    def test_set_metadata(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        agg = self.xml_request(
            'POST', self.url('/1/action'),
            '<set_metadata><metadata><k1>v1</k1><k2>v2</k2>'
            '<meta key="with space">v3</meta></metadata></set_metadata>'
        ).json['aggregate']
        self.assertEqual({'k1': 'v1', 'k2': 'v2', 'with space': 'v3'},
                         agg['metadata'])
        agg = self.xml_request(
            'POST', self.url('/1/action'),
            '<set_metadata xmlns:xsi="%s"><metadata><k1 xsi:nil="true"/>'
            '<k2></k2></metadata></set_metadata>' % XSI).json['aggregate']
        self.assertEqual({'k2': '', 'with space': 'v3'}, agg['metadata'])

    def test_xml_body_is_validated_like_json(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        before = self.snapshot()
        for path, body, part in (
                (self.url(), '<aggregate name=" padded"/>',
                 'leading or trailing whitespace'),
                (self.url(), '<aggregate name="x" colour="red"/>',
                 "Additional properties are not allowed: 'colour'"),
                (self.url(), '<aggregate/>', 'aggregate'),
                (self.url(), '<server name="x"/>',
                 "'aggregate' is a required property"),
                (self.url('/1/action'), '<add_host host="a b"/>',
                 'add_host/host'),
                (self.url('/1/action'), '<add_host/>', 'add_host'),
                (self.url('/1/action'), '<reboot/>',
                 "does not have the 'reboot' action")):
            response = self.request('POST', path, body, content_type=XML)
            self.assertFault(response, 400, 'badRequest', part)
        self.assertEqual(before, self.snapshot())

    def test_malformed_xml(self):
        for body in ('<aggregate name="x"', '<a><b></a>', 'not xml',
                     '<aggregate xsi:nil="true"/>'):
            response = self.request('POST', self.url(), body,
                                    content_type=XML)
            self.assertFault(response, 400, 'badRequest',
                             'Malformed request body')
        self.assertEqual([], self.snapshot())

    def test_empty_xml_body(self):
        self.assertFault(self.request('POST', self.url(), b' ',
                                      content_type=XML),
                         400, 'badRequest', 'The request body is empty.')

    # -- responses ----------------------------------------------------------

    def test_create_response_in_xml(self):
        response = self.xml_request(
            'POST', self.url('.xml'),
            '<aggregate name="agg1" availability_zone="az1"/>')
        self.assertEqual(XML, response.content_type)
        children = self.assertAggregateXML(
            _xml(response), v21.CREATE_FIELDS | {'operational_state'})
        self.assertEqual('1', children['id'].text)
        self.assertEqual('agg1', children['name'].text)
        self.assertEqual('az1', children['availability_zone'].text)
        self.assertEqual('None', children['updated_at'].text)
        self.assertEqual('None', children['deleted_at'].text)
        self.assertEqual('False', children['deleted'].text)
        self.assertEqual('created', children['operational_state'].text)
        self.assertRegex(children['created_at'].text, v21.TIMESTAMP)

    def test_show_response_in_xml(self):
        self.xml_request('POST', self.url(),
                         '<aggregate name="agg1" availability_zone="az1"/>')
        self.xml_request('POST', self.url('/1/action'),
                         '<add_host host="host1"/>')
        self.xml_request('POST', self.url('/1/action'),
                         '<add_host host="host2"/>')
        self.xml_request('POST', self.url('/1/action'),
                         '<set_metadata><metadata><k>v</k><meta key="a b">c'
                         '</meta></metadata></set_metadata>')
        response = self.xml_request('GET', self.url('/1.xml'))
        children = self.assertAggregateXML(
            _xml(response), v21.FIELDS | {'operational_state'})
        self.assertEqual(['host1', 'host2'],
                         [h.text for h in children['hosts']])
        self.assertEqual(['host', 'host'],
                         [h.tag for h in children['hosts']])
        metadata = children['metadata']
        self.assertEqual('az1', metadata.findtext('availability_zone'))
        self.assertEqual('v', metadata.findtext('k'))
        meta = metadata.find('meta')
        self.assertEqual(('a b', 'c'), (meta.get('key'), meta.text))
        self.assertEqual('active', children['operational_state'].text)

    def test_index_response_in_xml(self):
        for name in ('agg1', 'agg2'):
            self.xml_request('POST', self.url(),
                             '<aggregate name="%s"/>' % name)
        root = _xml(self.xml_request('GET', self.url('.xml')))
        self.assertEqual('aggregates', root.tag)
        self.assertEqual(['agg1', 'agg2'],
                         [agg.findtext('name') for agg in root])
        for agg in root:
            self.assertAggregateXML(agg, v21.FIELDS | {'operational_state'})

    def test_empty_index_in_xml(self):
        root = _xml(self.xml_request('GET', self.url('.xml')))
        self.assertEqual(('aggregates', []), (root.tag, list(root)))

    def test_action_response_in_xml(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        response = self.xml_request('POST', self.url('/1/action.xml'),
                                    '<add_host host="host1"/>')
        root = _xml(response)
        self.assertEqual(['host1'],
                         [h.text for h in root.find('hosts')])

    def test_update_response_in_xml(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        response = self.xml_request('PUT', self.url('/1.xml'),
                                    '<aggregate name="agg2"/>')
        self.assertEqual('agg2', _xml(response).findtext('name'))

    def test_delete_with_xml_suffix(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        response = self.xml_request('DELETE', self.url('/1.xml'))
        self.assertEqual(b'', response.body)
        self.assertEqual([], self.snapshot())

    def test_unicode_name_in_xml(self):
        name = 'Z\u00fcrich \u6771\u4eac'
        response = self.request(
            'POST', self.url('.xml'),
            ('<aggregate name="%s"/>' % name).encode('utf-8'),
            content_type=XML)
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(name, _xml(response).findtext('name'))

    def test_json_suffix_wins_over_accept(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        response = self.request('GET', self.url('/1.json'),
                                headers={'Accept': XML})
        self.assertEqual(200, response.status_int)
        self.assertEqual('application/json', response.content_type)
        self.assertEqual('agg1', response.json['aggregate']['name'])

    def test_xml_suffix_wins_over_accept(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        response = self.request('GET', self.url('/1.xml'),
                                headers={'Accept': 'application/json'})
        self.assertEqual(XML, response.content_type)
        self.assertEqual('agg1', _xml(response).findtext('name'))

    def test_accept_picks_xml(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        for accept in (XML, 'application/vnd.openstack.compute+xml'):
            response = self.request('GET', self.url('/1'),
                                    headers={'Accept': accept})
            self.assertEqual(XML, response.content_type, accept)
            self.assertEqual('agg1', _xml(response).findtext('name'))

    def test_json_by_default(self):
        self.xml_request('POST', self.url(), '<aggregate name="agg1"/>')
        for accept in (None, '*/*', 'application/json',
                       'application/json, application/xml'):
            headers = {'Accept': accept} if accept else {}
            response = self.request('GET', self.url('/1'), headers=headers)
            self.assertEqual('application/json', response.content_type)
            self.assertEqual('agg1', json.loads(response.body)[
                'aggregate']['name'])

    def test_json_body_with_xml_response(self):
        response = self.request('POST', self.url('.xml'),
                                {'aggregate': {'name': 'agg1'}})
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('agg1', _xml(response).findtext('name'))

    def test_v2_prefix_speaks_xml_too(self):
        response = self.request('POST', '/v2/admin/os-aggregates.xml',
                                '<aggregate name="agg1"/>', content_type=XML)
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('agg1', _xml(response).findtext('name'))

    # -- XML faults ---------------------------------------------------------

    def test_faults_in_xml(self):
        self.xml_request('POST', self.url(),
                         '<aggregate name="agg1" availability_zone="az1"/>')
        self.xml_request('POST', self.url('/1/action'),
                         '<add_host host="host1"/>')
        before = self.snapshot()
        cases = [
            ('GET', self.url('/999.xml'), None, 404, 'itemNotFound',
             'Aggregate 999 could not be found.'),
            ('GET', self.url('/abc.xml'), None, 404, 'itemNotFound',
             'Aggregate abc could not be found.'),
            ('POST', self.url('.xml'), '<aggregate name="agg1"/>', 409,
             'conflictingRequest', 'Aggregate agg1 already exists.'),
            ('POST', self.url('.xml'), '<aggregate name=""/>', 400,
             'badRequest', 'aggregate/name'),
            ('POST', self.url('.xml'), '<aggregate', 400, 'badRequest',
             'Malformed request body'),
            ('DELETE', self.url('/1.xml'), None, 400, 'badRequest',
             'still has hosts host1'),
            ('POST', self.url('/1/action.xml'), '<add_host host="nohost"/>',
             404, 'itemNotFound', 'Compute host nohost could not be found.'),
            ('POST', self.url('/1/action.xml'), '<add_host host="host1"/>',
             409, 'conflictingRequest', 'already has host host1'),
            ('DELETE', self.url('.xml'), None, 405, 'badMethod',
             'Method DELETE is not allowed'),
            ('GET', self.url('/1/nothing.xml'), None, 404, 'itemNotFound',
             'Unknown URL'),
        ]
        for method, path, body, status, name, part in cases:
            response = self.request(method, path, body,
                                    content_type=XML if body else None)
            self.assertXMLFault(response, status, name, part)
        response = self.request('GET', self.url('/999'),
                                headers={'Accept': XML})
        self.assertXMLFault(response, 404, 'itemNotFound',
                            'Aggregate 999 could not be found.')
        self.assertEqual(before, self.snapshot())

    def test_fault_of_the_outer_filters_in_xml(self):
        self.assertXMLFault(self.request('GET', self.url('.xml'),
                                         token=None),
                            401, 'unauthorized', 'Authentication required')
        self.assertXMLFault(self.request('GET', self.url(), token=None,
                                         headers={'Accept': XML}),
                            401, 'unauthorized', 'Authentication required')
        self.assertXMLFault(self.request('GET', self.url('.xml'),
                                         token='bob:admin'),
                            403, 'forbidden',
                            "Policy doesn't allow os_compute_api:"
                            "os-aggregates:index to be performed.")
        self.assertXMLFault(self.request('POST', self.url('.xml'),
                                         b'<a>' + b' ' * 200000 + b'</a>',
                                         content_type=XML),
                            413, 'overLimit', 'larger than the limit')

    def test_unsupported_content_type_fault_in_xml(self):
        response = self.request('POST', self.url('.xml'), 'name=agg1',
                                content_type='application/x-www-form-'
                                             'urlencoded')
        self.assertXMLFault(response, 415, 'badMediaType',
                            'Unsupported Content-Type')
        self.assertEqual([], self.snapshot())
