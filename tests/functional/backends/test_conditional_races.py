"""Conditional requests under concurrent writers, across API processes and
nodes sharing one database (SQLite file, PostgreSQL, MySQL/MariaDB).

Two ``nova-aggregates-api`` servers of two workers each: an ETag read on
one process must be judged the same on every other (the versions live in
the database), If-Match must let exactly one of the writers that read the
same version through, and no poll may be told "not modified" about a
change it has not seen.
"""

import collections

from nova_aggregates import context
from nova_aggregates import service
from tests.functional import backends
from tests.functional.backends import servers

NODES = servers.BurstMixin.NODES
CLIENTS = 12
ROUNDS = 3


def _etag(response):
    return {k.lower(): v for k, v in response.headers.items()}.get('etag')


class ConditionalRaceTests(servers.BurstMixin, backends.ServiceDatabaseMixin):

    @classmethod
    def set_up_class(cls):
        cls.start_nodes()

    def setUp(self):
        super().setUp()
        self.attach_node_logs()
        self.prefix = self.id().rsplit('.', 1)[-1][len('test_'):][:30] + '-'
        self.use_service()
        self.ctx = context.get_admin_context()
        self.manager = service.get_services().aggregates
        for number in range(CLIENTS * ROUNDS):
            service.get_services().compute_hosts.register(
                self.ctx, self.host(number))
        response = self.nodes[0].request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': self.prefix + 'agg'}})
        self.assertEqual(200, response.status, response)
        self.agg_id = response.json()['aggregate']['id']
        self.url = '/v2.1/os-aggregates/%d' % self.agg_id

    def host(self, number):
        return '%snode%d' % (self.prefix, number)

    def show(self, node=0, headers=None):
        return self.nodes[node].request('GET', self.url, headers=headers)

    def test_if_match_lets_one_writer_of_a_version_win(self):
        for number in range(ROUNDS):
            tag = _etag(self.show(number % NODES))
            hosts_before = len(self.manager.get_aggregate(
                self.ctx, self.agg_id)['hosts'])
            requests = []
            for i in range(CLIENTS):
                kind = i % 3
                if kind == 0:
                    # A host of its own: a refused add_host (already
                    # there) would not change the version either.
                    body = {'add_host': {'host': self.host(
                        number * CLIENTS + i)}}
                elif kind == 1:
                    body = {'set_metadata': {'metadata': {
                        'r%d' % number: 'c%d' % i}}}
                else:
                    requests.append((
                        'PUT', self.url, {'aggregate': {
                            'name': '%sr%d-c%d' % (self.prefix, number, i)}},
                        {'If-Match': tag}))
                    continue
                requests.append(('POST', self.url + '/action', body,
                                 {'If-Match': tag}))
            results = self.fire(requests)
            self.assertEqual({200: 1, 412: CLIENTS - 1}, collections.Counter(
                r.status for r in results), results)
            for result in results:
                if result.status == 412:
                    self.assertEqual('preconditionFailed', result.fault()[0])
            (winner, response), = [(i, r) for i, r in enumerate(results)
                                   if r.status == 200]
            agg = self.manager.get_aggregate(self.ctx, self.agg_id)
            # Exactly the winner's change, nothing of the others'.
            changed = (len(agg['hosts']) - hosts_before,
                       agg['metadata'].get('r%d' % number),
                       agg['name'].startswith('%sr%d-' % (self.prefix,
                                                          number)))
            self.assertEqual({0: (1, None, False),
                              1: (0, 'c%d' % winner, False),
                              2: (0, None, True)}[winner % 3], changed)
            # The winner's ETag is the aggregate's now, on every node.
            for node in range(NODES):
                self.assertEqual(_etag(response), _etag(self.show(node)))

    def test_no_poll_is_told_not_modified_about_a_change(self):
        list_url = '/v2.1/os-aggregates'
        for number in range(ROUNDS):
            show_tag = _etag(self.show())
            list_tag = _etag(self.nodes[1].request('GET', list_url))
            writes = [('POST', self.url + '/action', {'set_metadata': {
                'metadata': {'r%d-c%d' % (number, i): 'v'}}})
                for i in range(CLIENTS)]
            polls = [('GET', self.url, None, {'If-None-Match': show_tag}),
                     ('GET', list_url, None, {'If-None-Match': list_tag})]
            results = self.fire(writes + polls * 3)
            written = results[:CLIENTS]
            self.assertEqual([200] * CLIENTS, [r.status for r in written])
            for poll in results[CLIENTS:]:
                self.assertIn(poll.status, (200, 304), poll)
            # Each write made a version of its own; the last one is what
            # every node now shows.
            tags = [_etag(r) for r in written]
            self.assertEqual(CLIENTS, len(set(tags)), tags)
            current = _etag(self.show(1))
            self.assertIn(current, tags)
            for node in range(NODES):
                self.assertEqual(200, self.show(node, {
                    'If-None-Match': show_tag}).status)
                self.assertEqual(304, self.show(node, {
                    'If-None-Match': current}).status)
                response = self.nodes[node].request(
                    'GET', list_url, headers={'If-None-Match': list_tag})
                self.assertEqual(200, response.status)
                self.assertEqual(CLIENTS * (number + 1), len(
                    [k for k in [a for a in response.json()['aggregates']
                                 if a['id'] == self.agg_id][0]['metadata']
                     if k.startswith('r')]))
                self.assertEqual(304, self.nodes[node].request(
                    'GET', list_url, headers={
                        'If-None-Match': _etag(response)}).status)


class TestConditionalRacesSQLite(ConditionalRaceTests,
                                 backends.SharedDatabaseTestCase):
    BACKEND = backends.SQLITE


class TestConditionalRacesPostgreSQL(ConditionalRaceTests,
                                     backends.SharedDatabaseTestCase):
    BACKEND = backends.POSTGRESQL


class TestConditionalRacesMySQL(ConditionalRaceTests,
                                backends.SharedDatabaseTestCase):
    BACKEND = backends.MYSQL
