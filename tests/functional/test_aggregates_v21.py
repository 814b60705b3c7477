"""os-aggregates on the v2.1 surface: every operation, and every row and
column of the error table of the contract (section 5) for logical
aggregates.

``SurfaceTests`` holds the tests of one surface; the legacy surface
(test_aggregates_legacy.py) runs the same tests with its own prefix, id
rule and extra field.  Every refusal is checked for its status, its fault
body and a database left exactly as it was (``updated_at`` included).
"""

import json
import re

import fixtures

from tests import base

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')

CREATE_FIELDS = frozenset(('id', 'name', 'availability_zone', 'created_at',
                           'updated_at', 'deleted_at', 'deleted'))
FIELDS = CREATE_FIELDS | {'hosts', 'metadata'}
RESERVED_KEYS = ('operational_state', 'master_compute', 'last_error',
                 'xenapi_host_uuid:host1')
LATEST = {'OpenStack-API-Version': 'compute latest'}


class SurfaceTests:
    """Mixed into an APITestCase; a subclass names the surface."""

    PREFIX = '/v2.1'
    #: A non-integer {id}: 400 on v2.1; the 2012 surface did not find it.
    BAD_ID_STATUS = 400
    BAD_ID_FAULT = 'badRequest'
    BAD_ID_MESSAGE = 'must be an integer'
    #: Fields beyond the contract's (the 2012 operational_state).
    EXTRA_FIELDS = frozenset()

    def setUp(self):
        super().setUp()
        self.api.register_host('host1', 'az-registered')
        self.api.register_host('host2', 'az-registered')
        self.api.register_host('host3')

    # -- helpers ------------------------------------------------------------

    def url(self, suffix=''):
        return '%s/os-aggregates%s' % (self.PREFIX, suffix)

    def create(self, name='agg1', zone=None):
        return self.create_aggregate(name, zone, prefix=self.PREFIX)

    def act(self, aggregate_id, action, value, expected=200):
        return self.action(aggregate_id, action, value, expected,
                           prefix=self.PREFIX)

    def show(self, aggregate_id):
        return self.json_request(
            'GET', self.url('/%s' % aggregate_id))['aggregate']

    def snapshot(self):
        """Everything the database holds about aggregates, uuids too."""
        return self.json_request('GET', '/v2.1/os-aggregates',
                                 headers=LATEST)['aggregates']

    def assertRefused(self, method, path, body, status, name, message_part):
        before = self.snapshot()
        response = self.request(method, path, body)
        message = self.assertFault(response, status, name, message_part)
        self.assertEqual(before, self.snapshot())
        return message

    def with_host(self, name='agg1', zone='az1', host='host1'):
        agg = self.create(name, zone)
        self.act(agg['id'], 'add_host', {'host': host})
        return agg

    # -- create -------------------------------------------------------------

    def test_create_returns_the_body_without_hosts_and_metadata(self):
        response = self.request('POST', self.url(),
                                {'aggregate': {'name': 'agg1',
                                               'availability_zone': 'az1'}})
        self.assertEqual(200, response.status_int, response.body)
        agg = response.json['aggregate']
        self.assertEqual(CREATE_FIELDS | self.EXTRA_FIELDS, set(agg))
        self.assertIsInstance(agg['id'], int)
        self.assertEqual('agg1', agg['name'])
        self.assertEqual('az1', agg['availability_zone'])
        self.assertRegex(agg['created_at'], TIMESTAMP)
        self.assertIsNone(agg['updated_at'])
        self.assertIsNone(agg['deleted_at'])
        self.assertIs(False, agg['deleted'])

    def test_create_without_zone(self):
        agg = self.create('agg1')
        self.assertIsNone(agg['availability_zone'])
        shown = self.show(agg['id'])
        self.assertIsNone(shown['availability_zone'])
        self.assertEqual({}, shown['metadata'])

    def test_create_with_null_zone(self):
        agg = self.json_request('POST', self.url(), {'aggregate': {
            'name': 'agg1', 'availability_zone': None}})['aggregate']
        self.assertIsNone(agg['availability_zone'])
        self.assertEqual({}, self.show(agg['id'])['metadata'])

    def test_create_unicode_name(self):
        name = 'Z\u00fcrich \u2603 \u6771\u4eac \U0001f600'
        agg = self.create(name)
        self.assertEqual(name, agg['name'])
        self.assertEqual(name, self.show(agg['id'])['name'])

    def test_create_255_character_name(self):
        agg = self.create('n' * 255)
        self.assertEqual('n' * 255, self.show(agg['id'])['name'])

    def test_create_schema_error(self):
        self.assertRefused('POST', self.url(), {'aggregate': {}}, 400,
                           'badRequest', "'name' is a required property")

    def test_create_name_taken(self):
        self.create('agg1')
        self.assertRefused('POST', self.url(), {'aggregate': {'name': 'agg1'}},
                           409, 'conflictingRequest',
                           'Aggregate agg1 already exists.')

    def test_names_are_case_sensitive(self):
        first = self.create('agg1')
        second = self.create('AGG1')
        self.assertNotEqual(first['id'], second['id'])
        self.assertEqual(['agg1', 'AGG1'],
                         [a['name'] for a in self.snapshot()])

    # -- index and show -----------------------------------------------------

    def test_index_empty(self):
        self.assertEqual({'aggregates': []},
                         self.json_request('GET', self.url()))

    def test_index_lists_full_bodies(self):
        first = self.with_host('agg1', 'az1', 'host1')
        self.act(first['id'], 'set_metadata', {'metadata': {'k': 'v'}})
        second = self.create('agg2')
        listed = self.json_request('GET', self.url())['aggregates']
        self.assertEqual([first['id'], second['id']],
                         [a['id'] for a in listed])
        for agg in listed:
            self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(agg))
        self.assertEqual(['host1'], listed[0]['hosts'])
        self.assertEqual({'availability_zone': 'az1', 'k': 'v'},
                         listed[0]['metadata'])
        self.assertEqual([], listed[1]['hosts'])
        self.assertEqual({}, listed[1]['metadata'])
        self.assertEqual(listed[0], self.show(first['id']))

    def test_show_full_body(self):
        agg = self.create('agg1', 'az1')
        shown = self.show(agg['id'])
        self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(shown))
        self.assertEqual(agg['id'], shown['id'])
        self.assertEqual('agg1', shown['name'])
        self.assertEqual('az1', shown['availability_zone'])
        self.assertEqual([], shown['hosts'])
        self.assertEqual({'availability_zone': 'az1'}, shown['metadata'])
        self.assertEqual(agg['created_at'], shown['created_at'])
        self.assertIsNone(shown['updated_at'])
        self.assertIsNone(shown['deleted_at'])
        self.assertIs(False, shown['deleted'])

    def test_show_bad_id(self):
        self.create('agg1')
        self.assertRefused('GET', self.url('/abc'), None, self.BAD_ID_STATUS,
                           self.BAD_ID_FAULT, self.BAD_ID_MESSAGE)

    def test_show_missing(self):
        self.assertRefused('GET', self.url('/999'), None, 404, 'itemNotFound',
                           'Aggregate 999 could not be found.')

    def test_show_zero_and_negative_ids_are_missing(self):
        for value in ('0', '-1', '99999999999999999999'):
            self.assertFault(self.request('GET', self.url('/' + value)), 404,
                             'itemNotFound', 'could not be found')

    # -- update -------------------------------------------------------------

    def test_update_name(self):
        agg = self.create('agg1', 'az1')
        updated = self.json_request('PUT', self.url('/%s' % agg['id']), {
            'aggregate': {'name': 'renamed'}})['aggregate']
        self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(updated))
        self.assertEqual('renamed', updated['name'])
        self.assertEqual('az1', updated['availability_zone'])
        self.assertIsNotNone(updated['updated_at'])
        self.assertEqual(updated, self.show(agg['id']))

    def test_update_zone_keeps_other_metadata(self):
        agg = self.create('agg1', 'az1')
        self.act(agg['id'], 'set_metadata', {'metadata': {'k': 'v'}})
        updated = self.json_request('PUT', self.url('/%s' % agg['id']), {
            'aggregate': {'availability_zone': 'az2'}})['aggregate']
        self.assertEqual('az2', updated['availability_zone'])
        self.assertEqual({'availability_zone': 'az2', 'k': 'v'},
                         updated['metadata'])
        self.assertEqual(updated, self.show(agg['id']))

    def test_update_name_and_zone(self):
        agg = self.create('agg1')
        updated = self.json_request('PUT', self.url('/%s' % agg['id']), {
            'aggregate': {'name': 'n2', 'availability_zone': 'az9'}})
        self.assertEqual(('n2', 'az9'), (updated['aggregate']['name'],
                                         updated['aggregate'][
                                             'availability_zone']))

    def test_update_to_its_own_name(self):
        agg = self.create('agg1')
        updated = self.json_request('PUT', self.url('/%s' % agg['id']), {
            'aggregate': {'name': 'agg1'}})['aggregate']
        self.assertEqual('agg1', updated['name'])
        self.assertIsNotNone(updated['updated_at'])

    def test_update_zone_of_hosts_aggregates_to_the_same_zone(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.with_host('agg2', None, 'host1')
        updated = self.json_request('PUT', self.url('/%s' % agg2['id']), {
            'aggregate': {'availability_zone': 'az1'}})['aggregate']
        self.assertEqual('az1', updated['availability_zone'])

    def test_update_schema_error(self):
        agg = self.create('agg1')
        self.assertRefused('PUT', self.url('/%s' % agg['id']),
                           {'aggregate': {'name': 'x', 'hosts': []}}, 400,
                           'badRequest',
                           "Additional properties are not allowed: 'hosts'")

    def test_update_needs_name_or_zone(self):
        agg = self.create('agg1')
        self.assertRefused('PUT', self.url('/%s' % agg['id']),
                           {'aggregate': {}}, 400, 'badRequest',
                           'At least one of name and availability_zone')

    def test_update_zone_to_null(self):
        agg = self.create('agg1', 'az1')
        self.assertRefused('PUT', self.url('/%s' % agg['id']),
                           {'aggregate': {'availability_zone': None}}, 400,
                           'badRequest', 'cannot be empty or null')

    def test_update_zone_to_empty(self):
        agg = self.create('agg1', 'az1')
        self.assertRefused('PUT', self.url('/%s' % agg['id']),
                           {'aggregate': {'availability_zone': ''}}, 400,
                           'badRequest', 'aggregate/availability_zone')

    def test_update_zone_conflicting_with_another_zone_of_a_host(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.with_host('agg2', None, 'host1')
        message = self.assertRefused(
            'PUT', self.url('/%s' % agg2['id']),
            {'aggregate': {'availability_zone': 'az2'}}, 400, 'badRequest',
            'Cannot set availability zone az2')
        self.assertIn('host host1 is in aggregate agg1 with availability '
                      'zone az1', message)

    def test_update_missing(self):
        self.assertRefused('PUT', self.url('/999'),
                           {'aggregate': {'name': 'x'}}, 404, 'itemNotFound',
                           'Aggregate 999 could not be found.')

    def test_update_name_taken(self):
        self.create('agg1')
        agg2 = self.create('agg2')
        self.assertRefused('PUT', self.url('/%s' % agg2['id']),
                           {'aggregate': {'name': 'agg1'}}, 409,
                           'conflictingRequest',
                           'Aggregate agg1 already exists.')

    def test_update_bad_id(self):
        self.assertRefused('PUT', self.url('/abc'),
                           {'aggregate': {'name': 'x'}}, self.BAD_ID_STATUS,
                           self.BAD_ID_FAULT, self.BAD_ID_MESSAGE)

    # -- delete -------------------------------------------------------------

    def test_delete(self):
        agg = self.create('agg1', 'az1')
        keep = self.create('agg2')
        response = self.request('DELETE', self.url('/%s' % agg['id']))
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(b'', response.body)
        self.assertFault(self.request('GET', self.url('/%s' % agg['id'])),
                         404, 'itemNotFound')
        self.assertEqual([keep['id']], [a['id'] for a in self.snapshot()])

    def test_delete_frees_the_name_without_stale_metadata(self):
        agg = self.create('agg1', 'az1')
        self.act(agg['id'], 'set_metadata', {'metadata': {'k': 'v'}})
        self.json_request('DELETE', self.url('/%s' % agg['id']))
        again = self.create('agg1')
        self.assertNotEqual(agg['id'], again['id'])
        shown = self.show(again['id'])
        self.assertEqual({}, shown['metadata'])
        self.assertIsNone(shown['availability_zone'])
        self.assertIsNone(shown['updated_at'])

    def test_delete_with_hosts(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.assertRefused('DELETE', self.url('/%s' % agg['id']), None, 400,
                           'badRequest', 'still has hosts host1')

    def test_delete_missing(self):
        self.assertRefused('DELETE', self.url('/999'), None, 404,
                           'itemNotFound', 'Aggregate 999 could not be found.')

    def test_delete_bad_id(self):
        self.assertRefused('DELETE', self.url('/abc'), None,
                           self.BAD_ID_STATUS, self.BAD_ID_FAULT,
                           self.BAD_ID_MESSAGE)

    # -- add_host -----------------------------------------------------------

    def test_add_host(self):
        agg = self.create('agg1', 'az1')
        body = self.act(agg['id'], 'add_host', {'host': 'host1'})['aggregate']
        self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(body))
        self.assertEqual(['host1'], body['hosts'])
        self.assertIsNotNone(body['updated_at'])
        self.assertEqual(body, self.show(agg['id']))

    def test_hosts_are_listed_in_join_order(self):
        agg = self.create('agg1')
        for host in ('host3', 'host1', 'host2'):
            self.act(agg['id'], 'add_host', {'host': host})
        self.assertEqual(['host3', 'host1', 'host2'],
                         self.show(agg['id'])['hosts'])

    def test_host_in_several_aggregates_of_one_zone(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.create('agg2', 'az1')
        body = self.act(agg2['id'], 'add_host', {'host': 'host1'})
        self.assertEqual(['host1'], body['aggregate']['hosts'])

    def test_host_in_aggregates_with_and_without_zone(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.create('agg2')
        body = self.act(agg2['id'], 'add_host', {'host': 'host1'})
        self.assertEqual(['host1'], body['aggregate']['hosts'])
        agg3 = self.with_host('agg3', None, 'host2')
        agg4 = self.create('agg4', 'az4')
        body = self.act(agg4['id'], 'add_host', {'host': 'host2'})
        self.assertEqual(['host2'], body['aggregate']['hosts'])
        self.assertEqual(['host2'], self.show(agg3['id'])['hosts'])

    def test_registered_zone_does_not_restrict_joining(self):
        agg = self.create('agg1', 'somewhere-else')
        body = self.act(agg['id'], 'add_host', {'host': 'host1'})
        self.assertEqual(['host1'], body['aggregate']['hosts'])

    def test_add_host_schema_error(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'bad host'}}, 400,
                           'badRequest', 'add_host/host')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'host1', 'zone': 'x'}}, 400,
                           'badRequest', 'Additional properties')

    def test_add_host_aggregate_missing(self):
        self.assertRefused('POST', self.url('/999/action'),
                           {'add_host': {'host': 'host1'}}, 404,
                           'itemNotFound', 'Aggregate 999 could not be found.')

    def test_add_host_not_registered(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'nohost'}}, 404,
                           'itemNotFound',
                           'Compute host nohost could not be found.')

    def test_add_host_names_are_case_sensitive(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'HOST1'}}, 404,
                           'itemNotFound',
                           'Compute host HOST1 could not be found.')

    def test_add_host_already_in_this_aggregate(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'host1'}}, 409,
                           'conflictingRequest',
                           'Aggregate %s already has host host1.' % agg['id'])

    def test_add_host_in_another_aggregate_of_another_zone(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.create('agg2', 'az2')
        message = self.assertRefused(
            'POST', self.url('/%s/action' % agg2['id']),
            {'add_host': {'host': 'host1'}}, 409, 'conflictingRequest',
            'Cannot add host host1 to aggregate %s' % agg2['id'])
        self.assertIn('az2 conflicts with zone az1 of aggregate agg1',
                      message)

    # -- remove_host --------------------------------------------------------

    def test_remove_host(self):
        agg = self.create('agg1', 'az1')
        self.act(agg['id'], 'add_host', {'host': 'host1'})
        self.act(agg['id'], 'add_host', {'host': 'host2'})
        body = self.act(agg['id'], 'remove_host',
                        {'host': 'host1'})['aggregate']
        self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(body))
        self.assertEqual(['host2'], body['hosts'])
        self.assertEqual(body, self.show(agg['id']))
        body = self.act(agg['id'], 'remove_host', {'host': 'host2'})
        self.assertEqual([], body['aggregate']['hosts'])

    def test_removed_host_may_join_another_zone(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.act(agg['id'], 'remove_host', {'host': 'host1'})
        agg2 = self.create('agg2', 'az2')
        body = self.act(agg2['id'], 'add_host', {'host': 'host1'})
        self.assertEqual(['host1'], body['aggregate']['hosts'])

    def test_remove_host_schema_error(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'remove_host': {'host': ''}}, 400, 'badRequest',
                           'remove_host/host')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'remove_host': {}}, 400, 'badRequest',
                           "'host' is a required property")

    def test_remove_host_aggregate_missing(self):
        self.assertRefused('POST', self.url('/999/action'),
                           {'remove_host': {'host': 'host1'}}, 404,
                           'itemNotFound', 'Aggregate 999 could not be found.')

    def test_remove_host_not_registered(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'remove_host': {'host': 'nohost'}}, 404,
                           'itemNotFound',
                           'Compute host nohost could not be found.')

    def test_remove_host_not_in_aggregate(self):
        agg = self.with_host('agg1', 'az1', 'host1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'remove_host': {'host': 'host2'}}, 404,
                           'itemNotFound',
                           'Aggregate %s has no host host2.' % agg['id'])

    # -- set_metadata -------------------------------------------------------

    def test_set_metadata_merges_and_null_removes(self):
        agg = self.create('agg1', 'az1')
        body = self.act(agg['id'], 'set_metadata',
                        {'metadata': {'a': '1', 'b': '2'}})['aggregate']
        self.assertEqual(FIELDS | self.EXTRA_FIELDS, set(body))
        self.assertEqual({'availability_zone': 'az1', 'a': '1', 'b': '2'},
                         body['metadata'])
        body = self.act(agg['id'], 'set_metadata',
                        {'metadata': {'b': None, 'c': '3', 'a': 'one'}})
        self.assertEqual({'availability_zone': 'az1', 'a': 'one', 'c': '3'},
                         body['aggregate']['metadata'])
        self.assertEqual(body['aggregate'], self.show(agg['id']))

    def test_set_metadata_removing_an_absent_key_is_a_noop(self):
        agg = self.create('agg1', 'az1')
        self.act(agg['id'], 'set_metadata', {'metadata': {'a': '1'}})
        body = self.act(agg['id'], 'set_metadata',
                        {'metadata': {'absent': None}})
        self.assertEqual({'availability_zone': 'az1', 'a': '1'},
                         body['aggregate']['metadata'])

    def test_set_metadata_empty_is_a_noop(self):
        agg = self.create('agg1', 'az1')
        body = self.act(agg['id'], 'set_metadata', {'metadata': {}})
        self.assertEqual({'availability_zone': 'az1'},
                         body['aggregate']['metadata'])

    def test_set_metadata_sets_the_zone(self):
        agg = self.create('agg1')
        body = self.act(agg['id'], 'set_metadata',
                        {'metadata': {'availability_zone': 'az7'}})
        self.assertEqual('az7', body['aggregate']['availability_zone'])
        self.assertEqual('az7', self.show(agg['id'])['availability_zone'])

    def test_set_metadata_keys_are_case_sensitive(self):
        agg = self.create('agg1')
        body = self.act(agg['id'], 'set_metadata',
                        {'metadata': {'key': 'lower', 'KEY': 'upper'}})
        self.assertEqual({'key': 'lower', 'KEY': 'upper'},
                         body['aggregate']['metadata'])

    def test_set_metadata_schema_error(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'set_metadata': {'metadata': {'k': 1}}}, 400,
                           'badRequest', 'set_metadata/metadata/k')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'set_metadata': {'metadata': {'k/x': 'v'}}},
                           400, 'badRequest',
                           "Additional properties are not allowed: 'k/x'")

    def test_set_metadata_zone_to_null(self):
        agg = self.create('agg1', 'az1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'set_metadata': {'metadata': {
                               'availability_zone': None}}}, 400,
                           'badRequest', 'cannot be empty or null')

    def test_set_metadata_zone_to_empty(self):
        agg = self.create('agg1', 'az1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'set_metadata': {'metadata': {
                               'availability_zone': ''}}}, 400,
                           'badRequest', 'cannot be empty or null')

    def test_set_metadata_zone_follows_the_zone_rules(self):
        agg = self.create('agg1', 'az1')
        for zone, reason in (('a:b', 'contains ":"'),
                             (' az', 'leading or trailing whitespace'),
                             ('a\tb', 'unprintable')):
            self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                               {'set_metadata': {'metadata': {
                                   'availability_zone': zone}}}, 400,
                               'badRequest', reason)

    def test_set_metadata_zone_conflict(self):
        self.with_host('agg1', 'az1', 'host1')
        agg2 = self.with_host('agg2', None, 'host1')
        self.assertRefused('POST', self.url('/%s/action' % agg2['id']),
                           {'set_metadata': {'metadata': {
                               'availability_zone': 'az2'}}}, 400,
                           'badRequest', 'Cannot set availability zone az2')

    def test_set_metadata_reserved_keys(self):
        agg = self.create('agg1')
        for key in RESERVED_KEYS:
            for value in ('x', None):
                self.assertRefused(
                    'POST', self.url('/%s/action' % agg['id']),
                    {'set_metadata': {'metadata': {key: value}}}, 400,
                    'badRequest', 'Metadata key %s is reserved' % key)

    def test_set_metadata_missing(self):
        self.assertRefused('POST', self.url('/999/action'),
                           {'set_metadata': {'metadata': {'k': 'v'}}}, 404,
                           'itemNotFound', 'Aggregate 999 could not be found.')

    # -- actions in general -------------------------------------------------

    def test_action_bad_id(self):
        self.assertRefused('POST', self.url('/abc/action'),
                           {'add_host': {'host': 'host1'}},
                           self.BAD_ID_STATUS, self.BAD_ID_FAULT,
                           self.BAD_ID_MESSAGE)

    def test_unknown_action(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'reboot': {}}, 400, 'badRequest',
                           "does not have the 'reboot' action")

    def test_two_actions_in_one_body(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']),
                           {'add_host': {'host': 'host1'},
                            'set_metadata': {'metadata': {'k': 'v'}}}, 400,
                           'badRequest', 'exactly one action')

    def test_empty_action_body(self):
        agg = self.create('agg1')
        self.assertRefused('POST', self.url('/%s/action' % agg['id']), {},
                           400, 'badRequest', 'exactly one action')

    # -- bookkeeping --------------------------------------------------------

    def test_every_mutation_sets_updated_at(self):
        agg = self.create('agg1', 'az1')
        seen = [None]
        mutations = [
            ('PUT', '', {'aggregate': {'name': 'agg2'}}),
            ('PUT', '', {'aggregate': {'availability_zone': 'az2'}}),
            ('POST', '/action', {'add_host': {'host': 'host1'}}),
            ('POST', '/action', {'set_metadata': {'metadata': {'k': 'v'}}}),
            ('POST', '/action', {'set_metadata': {'metadata': {'k': None}}}),
            ('POST', '/action', {'remove_host': {'host': 'host1'}}),
        ]
        for method, suffix, body in mutations:
            result = self.json_request(
                method, self.url('/%s%s' % (agg['id'], suffix)), body)
            stamp = result['aggregate']['updated_at']
            self.assertRegex(stamp or '', TIMESTAMP, body)
            if seen[-1] is not None:
                self.assertGreater(stamp, seen[-1], body)
            # Persisted, not only in the response.
            self.assertEqual(stamp, self.show(agg['id'])['updated_at'], body)
            seen.append(stamp)

    def test_timestamps_have_microseconds(self):
        stamps = {self.create('agg%d' % i)['created_at'] for i in range(5)}
        for stamp in stamps:
            self.assertRegex(stamp, TIMESTAMP)
        self.assertEqual(5, len(stamps))

    # -- routing ------------------------------------------------------------

    def test_wrong_method(self):
        agg = self.create('agg1')
        for method, path, allow in (
                ('DELETE', self.url(), 'GET, POST'),
                ('POST', self.url('/%s' % agg['id']), 'DELETE, GET, PUT'),
                ('GET', self.url('/%s/action' % agg['id']), 'POST')):
            response = self.request(method, path)
            self.assertFault(response, 405, 'badMethod',
                             'Method %s is not allowed' % method)
            self.assertEqual(allow, response.headers['Allow'])

    def test_unknown_url(self):
        agg = self.create('agg1')
        for path in (self.url('/%s/frob' % agg['id']),
                     self.PREFIX + '/os-aggregatez',
                     self.url('/%s/action/x' % agg['id'])):
            self.assertFault(self.request('GET', path), 404, 'itemNotFound',
                             'Unknown URL')

    def test_routes_stay_right_past_the_kept_matches(self):
        # The router keeps the match of each path it saw (router.py);
        # past MATCHES_KEPT it starts again, and answers stay the same.
        self.useFixture(fixtures.MockPatch(
            'nova_aggregates.api.router.MATCHES_KEPT', 3))
        aggs = [self.create('agg%d' % n) for n in range(5)]
        for _ in range(2):
            for agg in aggs:
                response = self.request('GET', self.url('/%s' % agg['id']))
                self.assertEqual(200, response.status_int)
                self.assertEqual(agg['id'], json.loads(
                    response.body)['aggregate']['id'])
                self.assertFault(
                    self.request('GET', self.url('/%s/frob' % agg['id'])),
                    404, 'itemNotFound', 'Unknown URL')

    def test_every_response_has_a_request_id(self):
        agg = self.create('agg1')
        for response in (self.request('GET', self.url()),
                         self.request('GET', self.url('/999')),
                         self.request('GET', self.url(), token=None),
                         self.request('DELETE', self.url('/%s' % agg['id']))):
            request_id = response.headers.get('x-compute-request-id', '')
            self.assertRegex(request_id, '^req-[0-9a-f-]{36}$')
            self.assertEqual(request_id,
                             response.headers['x-openstack-request-id'])


class TestAggregatesV21(SurfaceTests, base.APITestCase):
    """``/v2.1/os-aggregates``."""


class TestAggregatesV21WithProject(SurfaceTests, base.APITestCase):
    """``/v2.1/{project_id}/os-aggregates``."""

    PREFIX = '/v2.1/admin'

    def test_project_of_another_caller(self):
        self.create('agg1')
        for method, path, body in (
                ('GET', '/v2.1/other/os-aggregates', None),
                ('POST', '/v2.1/other/os-aggregates',
                 {'aggregate': {'name': 'agg2'}}),
                ('GET', '/v2.1/other/os-aggregates/1', None),
                ('POST', '/v2.1/other/os-aggregates/1/action',
                 {'set_metadata': {'metadata': {'k': 'v'}}})):
            self.assertRefused(method, path, body, 400, 'badRequest',
                               'Malformed request url')


class TestV21BodiesAreExact(base.APITestCase):
    """Strict clients (Tempest's schemas) reject any extra field."""

    def test_no_legacy_fields_at_2_1(self):
        self.api.register_host('host1')
        created = self.create_aggregate('agg1', 'az1')
        self.assertEqual(CREATE_FIELDS, set(created))
        bodies = [
            self.json_request('GET', '/v2.1/os-aggregates/1')['aggregate'],
            self.json_request('GET', '/v2.1/os-aggregates')['aggregates'][0],
            self.action(1, 'add_host', {'host': 'host1'})['aggregate'],
            self.json_request('PUT', '/v2.1/os-aggregates/1', {
                'aggregate': {'name': 'x'}})['aggregate'],
        ]
        for body in bodies:
            self.assertEqual(FIELDS, set(body))
            self.assertNotIn('operational_state', body)
            self.assertNotIn('uuid', body)
