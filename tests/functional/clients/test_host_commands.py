"""``openstack host set/show`` and ``openstack compute service set``
(python-openstackclient) against the real server: a host's status and
maintenance mode (api-contract §13), as an operator types them."""

import testtools

from tests.functional.clients import server


class TestHostCommands(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(server.APIServerFixture('fake'))
        self.cli = self.useFixture(server.OpenStackCLIFixture(
            self.server.endpoint('/v2.1')))
        self.host = sorted(server.HOSTS)[0]

    def listed(self):
        status, body = self.server.get_json('/v2.1/os-hosts')
        self.assertEqual(200, status, body)
        return {h['host_name']: h for h in body['hosts']}[self.host]

    def test_host_set_and_show(self):
        cli, host = self.cli, self.host
        cli.ok('host', 'set', '--disable', host)
        self.assertEqual('disabled', self.listed()['status'])
        cli.ok('host', 'set', '--enable', host)
        self.assertEqual('enabled', self.listed()['status'])
        cli.ok('host', 'set', '--enable-maintenance', host)
        self.assertEqual(('disabled', 'on_maintenance'),
                         (self.listed()['status'],
                          self.listed()['maintenance_mode']))
        cli.ok('host', 'set', '--disable-maintenance', host)
        self.assertEqual(('enabled', 'off_maintenance'),
                         (self.listed()['status'],
                          self.listed()['maintenance_mode']))
        rows = cli.json('host', 'show', host)
        self.assertEqual({'(total)', '(used_now)'},
                         {row['Project'] for row in rows})
        self.assertIn('Compute host no-such-host could not be found',
                      cli.fails('host', 'show', 'no-such-host'))

    def test_compute_service_set(self):
        cli, host = self.cli, self.host
        cli.ok('compute', 'service', 'set', '--disable', host,
               'nova-compute')
        self.assertEqual('disabled', self.listed()['status'])
        cli.ok('compute', 'service', 'set', '--enable', host, 'nova-compute')
        self.assertEqual('enabled', self.listed()['status'])
        cli.ok('compute', 'service', 'set', '--disable',
               '--disable-reason', 'new disks', host, 'nova-compute')
        rows = cli.json('compute', 'service', 'list', '--long')
        row, = [r for r in rows if r['Host'] == host]
        self.assertEqual(('disabled', 'new disks'),
                         (row['Status'], row['Disabled Reason']))
