"""``openstack aggregate ...`` (python-openstackclient) end to end.

The real ``openstack`` command, keystone-less (``--os-auth-type admin_token
--os-token user:project --os-endpoint URL``), drives the real server with
its embedded XenServer simulator; ``-f json`` output is parsed.  Every
invocation costs about a second of client start-up, so each test walks a
whole lifecycle.
"""

import testtools

from tests.functional.clients import server


def _names(rows):
    return [row['Name'] for row in rows]


def server_aggregates(api_server, aggregate_id=None):
    """What the server holds, read without a client (v2.1, JSON)."""
    path = '/v2.1/os-aggregates'
    if aggregate_id is not None:
        path += '/%d' % aggregate_id
    status, body = api_server.get_json(path)
    if status != 200:
        raise AssertionError('GET %s: %d %s' % (path, status, body))
    return body['aggregates'] if aggregate_id is None else body['aggregate']


class V21CLITestCase(testtools.TestCase):
    """A server and ``openstack --os-endpoint .../v2.1``."""

    driver = 'xenapi'

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(server.APIServerFixture(self.driver))
        self.cli = self.useFixture(server.OpenStackCLIFixture(
            self.server.endpoint('/v2.1')))

    def server_aggregates(self):
        return server_aggregates(self.server)

    def server_aggregate(self, aggregate_id):
        return server_aggregates(self.server, aggregate_id)

    def assertFailsWith(self, expected_parts, *args, **kwargs):
        stderr = self.cli.fails(*args, **kwargs)
        for part in expected_parts:
            self.assertIn(part, stderr)
        return stderr


class TestOpenStackClientV21(V21CLITestCase):
    """The microversioned surface, with XenServer pools."""

    def test_pool_aggregate_lifecycle(self):
        cli = self.cli
        # create: POST os-aggregates, then set_metadata for the properties.
        created = cli.json('aggregate', 'create', '--zone', 'az1',
                           '--property', 'hypervisor_pool=true',
                           '--property', 'tier=gold', 'pool1')
        self.assertEqual('pool1', created['name'])
        self.assertEqual('az1', created['availability_zone'])
        self.assertEqual([], created['hosts'])
        self.assertEqual('true', created['properties']['hypervisor_pool'])
        self.assertEqual('gold', created['properties']['tier'])
        self.assertEqual('created',
                         created['properties']['operational_state'])
        agg_id = created['id']
        self.assertIsInstance(agg_id, int)

        # The first host becomes the XenServer pool master, the next joins.
        first = cli.json('aggregate', 'add', 'host', 'pool1', 'xenhost1')
        self.assertEqual(['xenhost1'], first['hosts'])
        self.assertEqual('xenhost1', first['properties']['master_compute'])
        self.assertEqual('active', first['properties']['operational_state'])
        second = cli.json('aggregate', 'add', 'host', 'pool1', 'xenhost2')
        self.assertEqual(['xenhost1', 'xenhost2'], second['hosts'])
        for host in ('xenhost1', 'xenhost2'):
            self.assertRegex(second['properties']['xenapi_host_uuid:' + host],
                             '^[0-9a-f-]{36}$')

        listed = cli.json('aggregate', 'list', '--long')
        self.assertEqual(1, len(listed), listed)
        row = listed[0]
        self.assertEqual(agg_id, row['ID'])
        self.assertEqual('pool1', row['Name'])
        self.assertEqual('az1', row['Availability Zone'])
        self.assertEqual(['xenhost1', 'xenhost2'], row['Hosts'])
        self.assertEqual('gold', row['Properties']['tier'])
        # The SDK negotiates a microversion >= 2.41: uuid is listed.
        self.assertRegex(row['UUID'], '^[0-9a-f-]{36}$')

        by_name = cli.json('aggregate', 'show', 'pool1')
        by_id = cli.json('aggregate', 'show', str(agg_id))
        self.assertEqual(by_name, by_id)
        self.assertEqual(agg_id, by_name['id'])
        self.assertEqual(row['UUID'], by_name['uuid'])
        self.assertEqual(['xenhost1', 'xenhost2'], by_name['hosts'])
        self.assertFalse(by_name['is_deleted'])
        self.assertIsNotNone(by_name['updated_at'])

        # set: PUT (name, zone; renames the XenServer pool) + set_metadata.
        self.assertEqual('', cli.ok(
            'aggregate', 'set', '--name', 'pool2', '--zone', 'az1',
            '--property', 'tier=silver', 'pool1').strip())
        cli.ok('aggregate', 'unset', '--property', 'tier', 'pool2')
        shown = self.server_aggregate(agg_id)
        self.assertEqual('pool2', shown['name'])
        self.assertEqual('az1', shown['availability_zone'])
        self.assertNotIn('tier', shown['metadata'])
        self.assertEqual('true', shown['metadata']['hypervisor_pool'])

        # The master may leave only when alone: 409 shown by the client.
        self.assertFailsWith(
            ['409', 'Cannot remove host xenhost1 from aggregate %d: it is '
             'the pool master and other members remain (xenhost2).'
             % agg_id],
            'aggregate', 'remove', 'host', 'pool2', 'xenhost1')

        after = cli.json('aggregate', 'remove', 'host', 'pool2', 'xenhost2')
        self.assertEqual(['xenhost1'], after['hosts'])
        self.assertNotIn('xenapi_host_uuid:xenhost2', after['properties'])
        empty = cli.json('aggregate', 'remove', 'host', 'pool2', 'xenhost1')
        self.assertEqual([], empty['hosts'])
        self.assertEqual('created', empty['properties']['operational_state'])
        self.assertNotIn('master_compute', empty['properties'])

        self.assertEqual('', cli.ok('aggregate', 'delete', 'pool2').strip())
        self.assertEqual([], self.server_aggregates())


class TestOpenStackClientNonAdmin(V21CLITestCase):
    """A caller who is not an administrator, through the real client.

    The server runs the ``fake`` driver here (hosts registered with
    nova-aggregates-manage): no pool is involved.
    """

    driver = 'fake'

    def test_non_admin_is_refused(self):
        # A non-admin caller gets the 403 fault; the client prints its text.
        self.assertFailsWith(
            ['403', "Policy doesn't allow os_compute_api:os-aggregates:"
             "index to be performed."],
            'aggregate', 'list', token='alice:proj1')
        self.assertFailsWith(
            ['403', "Policy doesn't allow os_compute_api:os-aggregates:"
             "create to be performed."],
            'aggregate', 'create', 'nope', token='alice:proj1')
        # Nothing was created behind the refusal.
        self.assertEqual([], self.server_aggregates())


class TestOpenStackClientLegacy(testtools.TestCase):
    """The 2012 surface, ``/v1.1/{project_id}``.

    keystoneauth reads the API version from a ``v1.1`` path segment of the
    endpoint and openstacksdk has no compute proxy for version 1, so the
    legacy endpoint is also given as the compute endpoint override
    (``OS_COMPUTE_ENDPOINT_OVERRIDE``, or ``compute_endpoint_override`` in
    clouds.yaml), which the SDK trusts without discovery.
    """

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(server.APIServerFixture())
        endpoint = self.server.endpoint('/v1.1/admin')
        self.cli = self.useFixture(server.OpenStackCLIFixture(
            endpoint, extra_env={'OS_COMPUTE_ENDPOINT_OVERRIDE': endpoint}))

    def test_logical_aggregate_lifecycle(self):
        cli = self.cli
        created = cli.json('aggregate', 'create', '--zone', 'az2',
                           '--property', 'rack=r1', 'legacy1')
        self.assertEqual('legacy1', created['name'])
        self.assertEqual('az2', created['availability_zone'])
        self.assertEqual('r1', created['properties']['rack'])
        agg_id = created['id']

        listed = cli.json('aggregate', 'list', '--long')
        self.assertEqual(['legacy1'], _names(listed))
        self.assertEqual({'rack': 'r1'}, listed[0]['Properties'])
        self.assertEqual([], listed[0]['Hosts'])

        # The legacy surface answers 404 for a non-integer id, and the
        # client falls back to matching names in the list.
        by_name = cli.json('aggregate', 'show', 'legacy1')
        by_id = cli.json('aggregate', 'show', str(agg_id))
        self.assertEqual(by_name, by_id)
        self.assertEqual(agg_id, by_name['id'])

        added = cli.json('aggregate', 'add', 'host', 'legacy1', 'xenhost3')
        self.assertEqual(['xenhost3'], added['hosts'])

        cli.ok('aggregate', 'set', '--name', 'legacy2', '--zone', 'az2',
               '--property', 'row=7', 'legacy1')
        cli.ok('aggregate', 'unset', '--property', 'rack', 'legacy2')
        shown = server_aggregates(self.server, agg_id)
        self.assertEqual('legacy2', shown['name'])
        self.assertEqual({'availability_zone': 'az2', 'row': '7'},
                         shown['metadata'])
        self.assertEqual(['xenhost3'], shown['hosts'])

        removed = cli.json('aggregate', 'remove', 'host', 'legacy2',
                           'xenhost3')
        self.assertEqual([], removed['hosts'])
        cli.ok('aggregate', 'delete', 'legacy2')
        self.assertEqual([], server_aggregates(self.server))
