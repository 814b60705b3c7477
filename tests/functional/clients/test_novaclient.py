"""python-novaclient's Python API end to end, keystone-less.

A keystoneauth session whose plugin is ``token_endpoint.Token(endpoint,
"admin:admin")`` (what openstackclient's ``admin_token`` uses) plus
``endpoint_override``: novaclient then sends requests straight to the
endpoint, with no discovery.  A plain ``noauth.NoAuth`` plugin sends the
token ``notused``, a non-admin caller here.
"""

from keystoneauth1 import noauth
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc
import testtools

from tests.functional.clients import server

UUID = r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TIMESTAMP = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$'


def make_session(endpoint, token=server.ADMIN_TOKEN):
    """Token plugin for ``token``; the NoAuth plugin for None."""
    auth = token_endpoint.Token(endpoint, token) if token else \
        noauth.NoAuth()
    return ks_session.Session(auth=auth, timeout=30)


class TestNovaClient(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(server.APIServerFixture())
        self.endpoint = self.server.endpoint('/v2.1')

    def client(self, version, endpoint=None, token=server.ADMIN_TOKEN):
        endpoint = endpoint or self.endpoint
        session = make_session(endpoint, token)
        # An idle keep-alive connection would delay the server's graceful
        # stop; close it first (cleanups run last-in, first-out).
        self.addCleanup(session.session.close)
        return nova_client.Client(version, session=session,
                                  endpoint_override=endpoint)

    def _lifecycle(self, version, name):
        """create, show, list, update, set_metadata, add_host (pool),
        remove_host, delete; returns the bodies seen, for version checks."""
        nova = self.client(version)
        aggs = nova.aggregates
        seen = []

        created = aggs.create(name, 'az2')
        seen.append(created.to_dict())
        self.assertEqual(name, created.name)
        self.assertEqual('az2', created.availability_zone)
        self.assertIsNone(created.updated_at)
        self.assertRegex(created.created_at, TIMESTAMP)
        # Create answers without hosts and metadata.
        self.assertNotIn('hosts', created.to_dict())
        self.assertNotIn('metadata', created.to_dict())

        pool = aggs.set_metadata(created, {'hypervisor_pool': 'true',
                                           'ssd': 'yes'})
        seen.append(pool.to_dict())
        self.assertEqual({'availability_zone': 'az2', 'hypervisor_pool':
                          'true', 'ssd': 'yes', 'operational_state':
                          'created'}, pool.metadata)
        self.assertRegex(pool.updated_at, TIMESTAMP)

        shown = aggs.get(created.id)
        seen.append(shown.to_dict())
        self.assertEqual(pool.to_dict(), shown.to_dict())
        self.assertEqual([name], [a.name for a in aggs.list()])

        updated = aggs.update(created, {'name': name + '-x'})
        seen.append(updated.to_dict())
        self.assertEqual(name + '-x', updated.name)

        master = aggs.add_host(created, 'xenhost3')
        member = aggs.add_host(created, 'xenhost4')
        seen.extend([master.to_dict(), member.to_dict()])
        self.assertEqual(['xenhost3', 'xenhost4'], member.hosts)
        self.assertEqual('xenhost3', member.metadata['master_compute'])
        self.assertEqual('active', member.metadata['operational_state'])

        # Typed client exceptions carry the fault's message.
        exc = self.assertRaises(nova_exc.Conflict, aggs.remove_host,
                                created, 'xenhost3')
        self.assertEqual(409, exc.code)
        self.assertIn('it is the pool master and other members remain',
                      exc.message)
        exc = self.assertRaises(nova_exc.BadRequest, aggs.delete, created)
        self.assertIn('it still has hosts', exc.message)
        exc = self.assertRaises(nova_exc.NotFound, aggs.add_host, created,
                                'no-such-host')
        self.assertIn('Compute host no-such-host could not be found',
                      exc.message)

        aggs.remove_host(created, 'xenhost4')
        emptied = aggs.remove_host(created, 'xenhost3')
        seen.append(emptied.to_dict())
        self.assertEqual([], emptied.hosts)
        self.assertEqual('created', emptied.metadata['operational_state'])
        cleared = aggs.set_metadata(created, {'ssd': None,
                                              'hypervisor_pool': None})
        self.assertEqual({'availability_zone': 'az2'}, cleared.metadata)

        aggs.delete(created)
        self.assertEqual([], aggs.list())
        self.assertRaises(nova_exc.NotFound, aggs.get, created.id)
        return seen

    def test_microversion_2_1(self):
        seen = self._lifecycle('2.1', 'nc21')
        for body in seen:
            self.assertNotIn('uuid', body)
            self.assertNotIn('operational_state', body)

    def test_microversion_2_41(self):
        seen = self._lifecycle('2.41', 'nc241')
        uuids = {body['uuid'] for body in seen}
        self.assertEqual(1, len(uuids), seen)
        self.assertRegex(uuids.pop(), UUID)

    def test_noauth_plugin_is_not_admin(self):
        nova = self.client('2.1', token=None)
        exc = self.assertRaises(nova_exc.Forbidden, nova.aggregates.list)
        self.assertEqual(403, exc.code)
        self.assertEqual("Policy doesn't allow os_compute_api:os-aggregates:"
                         "index to be performed.", exc.message)
        exc = self.assertRaises(nova_exc.Forbidden, nova.aggregates.create,
                                'nope', None)
        self.assertEqual("Policy doesn't allow os_compute_api:os-aggregates:"
                         "create to be performed.", exc.message)

    def test_legacy_surface(self):
        # "2.0": no microversion headers; the 2012 body with its state.
        endpoint = self.server.endpoint('/v1.1/admin')
        nova = self.client('2.0', endpoint)
        created = nova.aggregates.create('legacy-nc', None)
        self.assertIsNone(created.availability_zone)
        self.assertEqual('created', created.operational_state)
        added = nova.aggregates.add_host(created, 'xenhost1')
        self.assertEqual(['xenhost1'], added.hosts)
        self.assertEqual('active', added.operational_state)
        self.assertEqual(['legacy-nc'],
                         [a.name for a in nova.aggregates.list()])
        nova.aggregates.remove_host(created, 'xenhost1')
        nova.aggregates.delete(created)
        self.assertEqual([], nova.aggregates.list())
