"""The Placement fixture, what the real Placement 16 does that our mirror
relies on, and the FaultProxy in front of it.

``TestPlacementFixture``: providers and their aggregates round trip over
Placement's API, and the ``[placement]`` options work for a keystoneauth
client.  ``TestPlacementBehaviour``: the microversions the mirror needs,
provider generations (two writers with one generation: a real 409;
a PUT of unchanged aggregates still bumps the generation) and the error
documents.  ``TestFaultProxy``: each mode, on its own proxy in front of
the class's Placement.

One Placement serves a whole class; tests never depend on each other's
providers (names are unique per test, aggregates new uuids).
"""

import http.client
import json
import os
import socket
import time
import uuid

import fixtures
from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from tests.support import placement
from tests.support import process


def _name(prefix='rp'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def _aggregate():
    return str(uuid.uuid4())


class PlacementCase(placement.PlacementTestCase):

    def provider_path(self, name, tail=''):
        return '/resource_providers/%s%s' % (
            self.placement.provider(name)['uuid'], tail)

    def keystoneauth_client(self, options):
        """An adapter for Placement built as our service builds it: the
        ``[placement]`` section of a configuration file through
        keystoneauth's loaders."""
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'client.conf')
        process.write_config(path, {'placement': options})
        conf = cfg.ConfigOpts()
        ks_loading.register_auth_conf_options(conf, 'placement')
        ks_loading.register_session_conf_options(conf, 'placement')
        conf(args=[], default_config_files=[path])
        auth = ks_loading.load_auth_from_conf_options(conf, 'placement')
        session = ks_loading.load_session_from_conf_options(
            conf, 'placement', auth=auth)
        self.addCleanup(session.session.close)
        return ks_adapter.Adapter(
            session, service_type='placement', raise_exc=False,
            additional_headers={'OpenStack-API-Version': placement.VERSION})

    def assertError(self, status, code, answer):
        (error,) = answer['errors']
        self.assertEqual(status, error['status'])
        self.assertEqual(code, error.get('code'))
        return error


class TestPlacementFixture(PlacementCase):

    def test_serves_on_loopback(self):
        self.assertTrue(self.placement.url.startswith('http://127.0.0.1:'))
        status, versions = self.placement.request('GET', '/')
        self.assertEqual(200, status)
        self.assertEqual('1.39', versions['versions'][0]['max_version'])
        self.assertEqual('admin', self.placement.token)

    def test_provider_round_trip(self):
        name = _name()
        rp_uuid = self.placement.create_provider(name)
        found = self.placement.provider(name)
        self.assertEqual((rp_uuid, name, 0), (
            found['uuid'], found['name'], found['generation']))
        self.placement.delete_provider(name)
        self.assertIsNone(self.placement.provider(name))

    def test_provider_of_a_given_uuid_deleted_by_uuid(self):
        name, rp_uuid = _name(), _aggregate()
        self.assertEqual(rp_uuid,
                         self.placement.create_provider(name, rp_uuid))
        self.placement.delete_provider(rp_uuid)
        self.assertIsNone(self.placement.provider(name))

    def test_helpers_refuse_unknown_providers(self):
        name = _name()
        self.assertIsNone(self.placement.provider(name))
        self.assertRaises(placement.PlacementError,
                          self.placement.aggregates_of, name)
        self.assertRaises(placement.PlacementError,
                          self.placement.set_aggregates_of, name, set())
        self.assertRaises(placement.PlacementError,
                          self.placement.delete_provider, _aggregate())

    def test_aggregates_round_trip(self):
        first, second = _name(), _name()
        shared, own = _aggregate(), _aggregate()
        for name in (first, second):
            self.placement.create_provider(name)
            self.assertEqual(set(), self.placement.aggregates_of(name))
        self.assertEqual(1, self.placement.set_aggregates_of(
            first, {shared, own}))
        self.placement.set_aggregates_of(second, [shared])
        self.assertEqual({shared, own}, self.placement.aggregates_of(first))
        self.assertEqual({first, second}, self.placement.providers_in(shared))
        self.assertEqual({first}, self.placement.providers_in(own))

        self.assertEqual(2, self.placement.set_aggregates_of(first, set()))
        self.assertEqual(set(), self.placement.aggregates_of(first))
        self.assertEqual({second}, self.placement.providers_in(shared))
        self.assertEqual(set(), self.placement.providers_in(own))

    def test_placement_conf_options_for_keystoneauth(self):
        options = self.placement.placement_conf_options()
        self.assertEqual({'auth_type': 'admin_token',
                          'endpoint': self.placement.url,
                          'token': 'admin', 'timeout': 10}, options)
        self.assertNotIn('timeout',
                         self.placement.placement_conf_options(timeout=None))
        name = _name()
        self.placement.create_provider(name)
        client = self.keystoneauth_client(options)
        response = client.get('/resource_providers?name=' + name)
        self.assertEqual(200, response.status_code)
        self.assertEqual([name], [rp['name'] for rp in
                                  response.json()['resource_providers']])


class TestPlacementBehaviour(PlacementCase):
    """What the real Placement does, as the mirror will meet it."""

    def test_name_filter_since_1_0_member_of_since_1_3(self):
        name, aggregate = _name(), _aggregate()
        self.placement.create_provider(name)
        self.placement.set_aggregates_of(name, {aggregate})
        status, body = self.placement.request(
            'GET', '/resource_providers?name=' + name,
            version='placement 1.0')
        self.assertEqual((200, [name]), (status, [
            rp['name'] for rp in body['resource_providers']]))
        member_of = '/resource_providers?member_of=' + aggregate
        status, body = self.placement.request('GET', member_of,
                                              version='placement 1.2')
        self.assertEqual(400, status)
        # Error documents have a "code" from 1.23 on.
        self.assertNotIn('code', body['errors'][0])
        status, body = self.placement.request('GET', member_of,
                                              version='placement 1.3')
        self.assertEqual((200, [name]), (status, [
            rp['name'] for rp in body['resource_providers']]))

    def test_aggregates_carry_the_generation_since_1_19(self):
        name = _name()
        self.placement.create_provider(name)
        path = self.provider_path(name, '/aggregates')
        self.assertEqual((200, {'aggregates': []}), self.placement.request(
            'GET', path, version='placement 1.18'))
        self.assertEqual(
            (200, {'aggregates': [], 'resource_provider_generation': 0}),
            self.placement.request('GET', path, version='placement 1.19'))

    def test_two_writers_with_one_generation_conflict(self):
        name, theirs, ours = _name(), _aggregate(), _aggregate()
        self.placement.create_provider(name)
        path = self.provider_path(name, '/aggregates')
        generation = self.placement.request('GET', path)[1][
            'resource_provider_generation']
        status, body = self.placement.request('PUT', path, {
            'aggregates': [theirs],
            'resource_provider_generation': generation})
        self.assertEqual((200, generation + 1),
                         (status, body['resource_provider_generation']))
        status, body = self.placement.request('PUT', path, {
            'aggregates': [ours], 'resource_provider_generation': generation})
        self.assertEqual(409, status)
        error = self.assertError(409, 'placement.concurrent_update', body)
        self.assertEqual('Conflict', error['title'])
        self.assertIn("generation already changed", error['detail'])
        self.assertEqual({theirs}, self.placement.aggregates_of(name))

    def test_unchanged_aggregates_still_bump_the_generation(self):
        name, aggregate = _name(), _aggregate()
        self.placement.create_provider(name)
        self.assertEqual(1, self.placement.set_aggregates_of(
            name, {aggregate}))
        self.assertEqual(2, self.placement.set_aggregates_of(
            name, {aggregate}))
        self.assertEqual(2, self.placement.provider(name)['generation'])

    def test_unknown_provider(self):
        path = '/resource_providers/%s/aggregates' % _aggregate()
        for method, body in (('GET', None), ('PUT', {
                'aggregates': [], 'resource_provider_generation': 0})):
            status, answer = self.placement.request(method, path, body)
            self.assertEqual(404, status, method)
            error = self.assertError(404, 'placement.undefined_code', answer)
            self.assertIn('No resource provider with uuid', error['detail'])

    def test_duplicate_name(self):
        name = _name()
        self.placement.create_provider(name)
        status, answer = self.placement.request(
            'POST', '/resource_providers', {'name': name})
        self.assertEqual(409, status)
        self.assertError(409, 'placement.duplicate_name', answer)


class TestFaultProxy(PlacementCase):

    def setUp(self):
        super().setUp()
        self.proxy = self.useFixture(placement.FaultProxy(self.placement.url))

    def via(self, method, path, body=None):
        """A request to Placement through the proxy."""
        return self.placement.request(method, path, body, url=self.proxy.url)

    def connection(self, timeout=10):
        conn = http.client.HTTPConnection('127.0.0.1', self.proxy.port,
                                          timeout=timeout)
        self.addCleanup(conn.close)
        return conn

    def statuses(self):
        return [status for _method, _path, status in self.proxy.requests]

    def test_passes_requests_through_and_records_them(self):
        name = _name()
        self.assertTrue(self.proxy.url.startswith('http://127.0.0.1:'))
        self.assertNotEqual(self.placement.url, self.proxy.url)
        self.assertEqual('pass', self.proxy.mode)
        status, body = self.via('POST', '/resource_providers', {'name': name})
        self.assertEqual(200, status)
        self.assertEqual(body['uuid'], self.placement.provider(name)['uuid'])
        status, body = self.via('GET', '/resource_providers?name=' + name)
        self.assertEqual([name], [rp['name']
                                  for rp in body['resource_providers']])
        status, body = self.via('DELETE', '/resource_providers/' + body[
            'resource_providers'][0]['uuid'])
        self.assertEqual((204, b''), (status, body))
        self.assertEqual([('POST', '/resource_providers', 200),
                          ('GET', '/resource_providers?name=' + name, 200),
                          ('DELETE', self.proxy.requests[2][1], 204)],
                         self.proxy.requests)
        self.assertEqual([], self.proxy.errors)

    def test_keeps_connections_alive(self):
        conn = self.connection()
        sockets = []
        for _ in range(3):
            conn.request('GET', '/')
            response = conn.getresponse()
            self.assertEqual(200, response.status)
            self.assertIn('versions', json.loads(response.read()))
            sockets.append(conn.sock)
        self.assertIsNotNone(sockets[0])
        self.assertEqual([sockets[0]] * 3, sockets)

    def test_down_refuses_connections_until_back(self):
        kept = self.connection()
        kept.request('GET', '/')
        kept.getresponse().read()
        self.proxy.down()
        self.assertEqual('down', self.proxy.mode)
        self.assertRaises(ConnectionRefusedError, socket.create_connection,
                          ('127.0.0.1', self.proxy.port), 5)

        def reuse():
            kept.request('GET', '/')
            return kept.getresponse()

        # The connection opened before is cut too.
        self.assertRaises(OSError, reuse)
        self.proxy.pass_through()
        self.assertEqual(200, self.via('GET', '/')[0])
        self.assertEqual([('GET', '/', 200)] * 2, self.proxy.requests)

    def test_slow_delays_each_response(self):
        self.proxy.slow(0.3)
        for _ in range(2):
            started = time.monotonic()
            self.assertEqual(200, self.via('GET', '/')[0])
            self.assertGreaterEqual(time.monotonic() - started, 0.3)
        self.proxy.pass_through()
        self.assertEqual(200, self.via('GET', '/')[0])

    def test_slow_answers_after_placement_did_the_work(self):
        name = _name()
        self.proxy.slow(30)
        conn = self.connection(timeout=0.3)
        conn.request('POST', '/resource_providers', json.dumps(
            {'name': name}), {'X-Auth-Token': placement.TOKEN,
                              'OpenStack-API-Version': placement.VERSION,
                              'Content-Type': 'application/json'})
        self.assertRaises(TimeoutError, conn.getresponse)
        deadline = time.monotonic() + 10
        while not self.proxy.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual([('POST', '/resource_providers', 200)],
                         self.proxy.requests)
        self.assertIsNotNone(self.placement.provider(name))

    def test_fail_answers_the_status_then_passes(self):
        name = _name()
        self.proxy.fail(503, count=2)
        self.assertEqual('fail', self.proxy.mode)
        status, body = self.via('POST', '/resource_providers', {'name': name})
        self.assertEqual(503, status)
        error = self.assertError(503, 'placement.undefined_code', body)
        self.assertEqual('Service Unavailable', error['title'])
        # Not forwarded: Placement never saw it.
        self.assertIsNone(self.placement.provider(name))
        self.assertEqual(503, self.via('GET', '/')[0])
        self.assertEqual('pass', self.proxy.mode)
        self.assertEqual(200, self.via('GET', '/')[0])
        self.assertEqual([503, 503, 200], self.statuses())

    def test_fail_without_count_lasts_until_changed(self):
        self.proxy.fail(500)
        for _ in range(3):
            status, body = self.via('GET', '/')
            self.assertEqual(500, status)
            self.assertError(500, 'placement.undefined_code', body)
        self.proxy.pass_through()
        self.assertEqual(200, self.via('GET', '/')[0])
        self.assertEqual([500, 500, 500, 200], self.statuses())
        self.assertRaises(ValueError, self.proxy.fail, 503, 0)

    def test_hook_makes_a_real_generation_conflict(self):
        name, theirs, ours = _name(), _aggregate(), _aggregate()
        self.placement.create_provider(name)
        path = self.provider_path(name, '/aggregates')
        seen = []

        def write_behind_our_back(method, request_path):
            seen.append((method, request_path))
            if method == 'PUT':
                self.placement.set_aggregates_of(name, {theirs})

        self.proxy.before_forward(write_behind_our_back)
        # Our client reads the generation, then writes with it.
        status, body = self.via('GET', path)
        status, body = self.via('PUT', path, {
            'aggregates': [ours],
            'resource_provider_generation': body[
                'resource_provider_generation']})
        self.assertEqual(409, status)
        self.assertError(409, 'placement.concurrent_update', body)
        self.assertEqual([('GET', path), ('PUT', path)], seen)
        self.assertEqual([('GET', path, 200), ('PUT', path, 409)],
                         self.proxy.requests)
        self.assertEqual({theirs}, self.placement.aggregates_of(name))
        self.proxy.before_forward(None)
        self.assertEqual(200, self.via('GET', path)[0])
        self.assertEqual(2, len(seen))

    def test_a_failing_hook_answers_500(self):
        def broken(method, path):
            raise RuntimeError('broken hook')

        self.proxy.before_forward(broken)
        status, body = self.via('GET', '/')
        self.assertEqual(500, status)
        self.assertIn('broken hook', body['errors'][0]['detail'])
        self.assertEqual(['broken hook'], [str(exc)
                                           for exc in self.proxy.errors])

    def test_keystoneauth_client_through_each_mode(self):
        client = self.keystoneauth_client(
            self.placement.placement_conf_options(self.proxy.url,
                                                  timeout=0.3))
        self.assertEqual(200, client.get('/resource_providers').status_code)
        self.proxy.down()
        self.assertRaises(ks_exc.ConnectFailure, client.get, '/')
        self.proxy.pass_through()
        self.assertEqual(200, client.get('/').status_code)
        self.proxy.slow(5)
        self.assertRaises(ks_exc.ConnectTimeout, client.get, '/')
        self.proxy.fail(503, count=1)
        response = client.get('/')
        self.assertEqual(503, response.status_code)
        self.assertEqual(503, response.json()['errors'][0]['status'])
        self.assertEqual(200, client.get('/').status_code)
