"""Conditional requests on os-aggregates: ETags on show, list and changes,
If-None-Match -> 304, If-Match -> 412 (api/conditional.py), through the
whole paste pipeline, on the own store (``ConditionalTests``) and on the
nova_api store (``TestConditionalRequestsNovaAPI``)."""

import json

import fixtures
import sqlalchemy as sa

from nova_aggregates.api.contrib import aggregates as aggregates_api
from nova_aggregates.db import api as db_api
from tests import base
from tests.functional.db import test_nova_api_store
from tests.support import sql

V241 = {'OpenStack-API-Version': 'compute 2.41'}


class ConditionalTests(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.api.register_host('host1', 'az1')
        self.api.register_host('host2', 'az1')
        self.agg = self.create_aggregate('web', 'az1')
        self.url = '/v2.1/os-aggregates/%d' % self.agg['id']

    # -- helpers ------------------------------------------------------------

    def get(self, url=None, headers=None):
        return self.request('GET', url or self.url, headers=headers)

    def etag(self, url=None, headers=None):
        response = self.get(url, headers)
        self.assertEqual(200, response.status_int, response.body)
        return response.headers['ETag']

    def act(self, body, tag=None, expected=200, url=None):
        response = self.request(
            'POST', (url or self.url) + '/action', body,
            headers={'If-Match': tag} if tag is not None else None)
        self.assertEqual(expected, response.status_int, response.body)
        return response

    def snapshot(self):
        """What the database holds about aggregates, timestamps too."""
        with db_api.get_engine().connect() as conn:
            return [sorted(tuple(row) for row in conn.execute(sa.select(
                table))) for table in (db_api.aggregates,
                                       db_api.aggregate_hosts,
                                       db_api.aggregate_metadata)]

    def assertNotModified(self, response, tag):
        self.assertEqual(304, response.status_int, response.body)
        self.assertEqual(b'', response.body)
        self.assertEqual(tag, response.headers['ETag'])
        self.assertNotIn('Content-Type', response.headers)

    def assertPreconditionFailed(self, response):
        message = self.assertFault(response, 412, 'preconditionFailed',
                                   'has changed since')
        self.assertIn('Aggregate %d' % self.agg['id'], message)

    # -- ETags --------------------------------------------------------------

    def test_show_and_list_send_a_strong_etag(self):
        for url in (self.url, '/v2.1/os-aggregates'):
            tag = self.etag(url)
            self.assertRegex(tag, r'^"[0-9a-f]+-v"$')
            # Unchanged, the same tag.
            self.assertEqual(tag, self.etag(url))

    def test_create_and_changes_send_the_etag_a_show_then_sends(self):
        created = self.request('POST', '/v2.1/os-aggregates',
                               {'aggregate': {'name': 'db'}})
        url = '/v2.1/os-aggregates/%d' % json.loads(
            created.body)['aggregate']['id']
        self.assertEqual(created.headers['ETag'], self.etag(url))
        for body in ({'set_metadata': {'metadata': {'k': 'v'}}},
                     {'add_host': {'host': 'host1'}},
                     {'remove_host': {'host': 'host1'}}):
            response = self.act(body, url=url)
            self.assertEqual(response.headers['ETag'], self.etag(url))
        response = self.request('PUT', url, {'aggregate': {'name': 'db2'}})
        self.assertEqual(response.headers['ETag'], self.etag(url))

    def test_every_change_changes_the_etags(self):
        other = self.create_aggregate('other')
        other_url = '/v2.1/os-aggregates/%d' % other['id']
        seen_show, seen_list = {self.etag()}, {self.etag('/v2.1/os-aggregates')}
        changes = [
            ('POST', self.url + '/action',
             {'set_metadata': {'metadata': {'k': 'v'}}}),
            ('POST', self.url + '/action',
             {'set_metadata': {'metadata': {'k': None}}}),
            ('POST', self.url + '/action', {'add_host': {'host': 'host1'}}),
            ('POST', self.url + '/action',
             {'remove_host': {'host': 'host1'}}),
            ('PUT', self.url, {'aggregate': {'name': 'web2'}}),
            ('PUT', self.url, {'aggregate': {'availability_zone': 'az2'}}),
        ]
        for method, url, body in changes:
            response = self.request(method, url, body)
            self.assertEqual(200, response.status_int, response.body)
            show, listed = self.etag(), self.etag('/v2.1/os-aggregates')
            self.assertNotIn(show, seen_show, body)
            self.assertNotIn(listed, seen_list, body)
            seen_show.add(show)
            seen_list.add(listed)
        # Another aggregate's change, creation and deletion change the
        # list's tag, not this aggregate's.
        show = self.etag()
        for method, url, body in (
                ('POST', other_url + '/action',
                 {'set_metadata': {'metadata': {'x': 'y'}}}),
                ('POST', '/v2.1/os-aggregates', {'aggregate': {'name': 'n'}}),
                ('DELETE', other_url, None)):
            self.assertEqual(200, self.request(method, url, body).status_int)
            listed = self.etag('/v2.1/os-aggregates')
            self.assertNotIn(listed, seen_list, method)
            seen_list.add(listed)
            self.assertEqual(show, self.etag())

    def test_a_refused_change_changes_no_etag(self):
        tags = self.etag(), self.etag('/v2.1/os-aggregates')
        self.act({'remove_host': {'host': 'host1'}}, expected=404)
        self.act({'set_metadata': {'metadata': {'operational_state': 'x'}}},
                 expected=400)
        self.assertEqual(tags, (self.etag(),
                                self.etag('/v2.1/os-aggregates')))

    def test_each_representation_has_its_own_etag(self):
        legacy = '/v1.1/admin/os-aggregates/%d' % self.agg['id']
        tags = [self.etag(), self.etag(headers=V241), self.etag(legacy),
                self.etag(legacy + '.xml'),
                self.etag(legacy, {'Accept': 'application/xml'})]
        self.assertEqual(4, len(set(tags)), tags)
        self.assertEqual(tags[3], tags[4])
        # A tag is "not modified" only for its own representation.
        self.assertEqual(200, self.get(headers=dict(
            V241, **{'If-None-Match': tags[0]})).status_int)
        self.assertNotModified(self.get(headers=dict(
            V241, **{'If-None-Match': tags[1]})), tags[1])
        self.assertNotModified(self.get(legacy + '.xml', {
            'If-None-Match': tags[3]}), tags[3])

    # -- If-None-Match ------------------------------------------------------

    def test_if_none_match_on_show(self):
        tag = self.etag()
        for header in (tag, 'W/' + tag, '"x-v", ' + tag, '*'):
            self.assertNotModified(self.get(headers={
                'If-None-Match': header}), tag)
        for header in ('"x-v"', tag[:-2] + 'u"', 'garbage', ''):
            response = self.get(headers={'If-None-Match': header})
            self.assertEqual(200, response.status_int, header)
            self.assertEqual(tag, response.headers['ETag'])
        self.act({'set_metadata': {'metadata': {'k': 'v'}}})
        response = self.get(headers={'If-None-Match': tag})
        self.assertEqual(200, response.status_int)
        self.assertEqual({'k': 'v', 'availability_zone': 'az1'},
                         json.loads(response.body)['aggregate']['metadata'])

    def test_if_none_match_on_list(self):
        url = '/v2.1/os-aggregates'
        tag = self.etag(url)
        self.assertNotModified(self.get(url, {'If-None-Match': tag}), tag)
        self.assertNotModified(self.get(url + '?host=host1', {
            'If-None-Match': tag}), tag)
        self.create_aggregate('new')
        response = self.get(url, {'If-None-Match': tag})
        self.assertEqual(200, response.status_int)
        self.assertEqual(['web', 'new'], [
            a['name'] for a in json.loads(response.body)['aggregates']])

    def test_not_modified_still_needs_authorization(self):
        tag = self.etag()
        response = self.request('GET', self.url, token='demo:demo',
                                headers={'If-None-Match': tag})
        self.assertFault(response, 403, 'forbidden')
        response = self.request('GET', '/v2.1/os-aggregates/999',
                                headers={'If-None-Match': '*'})
        self.assertFault(response, 404, 'itemNotFound')

    def test_not_modified_from_one_read(self):
        tag = self.etag()
        list_tag = self.etag('/v2.1/os-aggregates')
        with sql.StatementCounter(db_api.get_engine(),
                                  queries_only=True) as counter:
            self.assertNotModified(self.get(headers={'If-None-Match': tag}),
                                   tag)
        self.assertEqual(self.NOT_MODIFIED_STATEMENTS, counter.count,
                         counter.statements)
        with sql.StatementCounter(db_api.get_engine(),
                                  queries_only=True) as counter:
            self.assertNotModified(self.get('/v2.1/os-aggregates', {
                'If-None-Match': list_tag}), list_tag)
        self.assertEqual(self.NOT_MODIFIED_STATEMENTS, counter.count,
                         counter.statements)

    #: Statements a 304 costs: the version's one read.
    NOT_MODIFIED_STATEMENTS = 1
    #: Whether an unchanged poll is answered without the handler (from the
    #: version alone: router.APIRouter.unchanged).
    POLL_WITHOUT_HANDLER = True

    def test_an_unchanged_poll_is_answered_as_the_handler_would(self):
        controller = aggregates_api.AggregatesController
        handlers = [self.useFixture(fixtures.MockPatchObject(
            controller, action, autospec=True,
            side_effect=getattr(controller, action))).mock
            for action in ('show', 'index')]
        urls = (self.url, '/v2.1/admin/os-aggregates/%d' % self.agg['id'],
                '/v2.1/os-aggregates', '/v2.1/admin/os-aggregates')
        for version in ({}, V241):
            for url in urls:
                tag = self.etag(url, version)
                response = self.get(url, dict(version, **{
                    'If-None-Match': tag}))
                self.assertNotModified(response, tag)
                request_id = response.headers['x-openstack-request-id']
                self.assertRegex(request_id, r'^req-[0-9a-f-]{36}$')
                self.assertEqual(request_id,
                                 response.headers['x-compute-request-id'])
                self.assertEqual(
                    'compute %s' % ('2.41' if version else '2.1'),
                    response.headers['OpenStack-API-Version'])
                self.assertIn('OpenStack-API-Version',
                              response.headers['Vary'])
        # Each etag() ran its handler; a 304 did only where the store tells
        # versions only by reading the aggregates.
        self.assertEqual(8 if self.POLL_WITHOUT_HANDLER else 16,
                         sum(handler.call_count for handler in handlers))
        # Someone else's project in the URL is refused, poll or not.
        response = self.get('/v2.1/demo/os-aggregates/%d' % self.agg['id'],
                            {'If-None-Match': '*'})
        self.assertFault(response, 400, 'badRequest', 'Malformed request')

    # -- If-Match -----------------------------------------------------------

    def test_if_match_current_tag_lets_every_change_through(self):
        for body in ({'set_metadata': {'metadata': {'k': 'v'}}},
                     {'add_host': {'host': 'host1'}},
                     {'remove_host': {'host': 'host1'}}):
            tag = self.etag()
            response = self.act(body, tag)
            self.assertNotEqual(tag, response.headers['ETag'])
        response = self.request('PUT', self.url,
                                {'aggregate': {'name': 'web2'}},
                                headers={'If-Match': self.etag()})
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('web2', self.manager.get_aggregate(
            self.context, self.agg['id'])['name'])
        response = self.request('DELETE', self.url,
                                headers={'If-Match': self.etag()})
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual(404, self.get().status_int)

    def test_if_match_stale_tag_changes_nothing(self):
        stale = self.etag()
        self.act({'add_host': {'host': 'host1'}})
        before = self.snapshot()
        requests = [
            ('POST', self.url + '/action',
             {'set_metadata': {'metadata': {'k': 'v'}}}),
            ('POST', self.url + '/action', {'add_host': {'host': 'host2'}}),
            ('POST', self.url + '/action',
             {'remove_host': {'host': 'host1'}}),
            ('PUT', self.url, {'aggregate': {'name': 'web2'}}),
            ('DELETE', self.url, None),
        ]
        for method, url, body in requests:
            for header in (stale, 'W/' + self.etag(), '"nothing-v"',
                           'garbage'):
                response = self.request(method, url, body,
                                        headers={'If-Match': header})
                self.assertPreconditionFailed(response)
                self.assertEqual(before, self.snapshot(), (method, header))

    def test_if_match_any_representation_and_star(self):
        legacy = '/v1.1/admin/os-aggregates/%d' % self.agg['id']
        response = self.act({'set_metadata': {'metadata': {'a': '1'}}},
                            self.etag(legacy + '.xml'))
        response = self.act({'set_metadata': {'metadata': {'b': '2'}}},
                            '"x-v", ' + response.headers['ETag'],
                            url=legacy)
        self.assertRegex(response.headers['ETag'], r'-l"$')
        self.act({'set_metadata': {'metadata': {'c': '3'}}}, '*')
        self.assertEqual({'a': '1', 'b': '2', 'c': '3',
                          'availability_zone': 'az1'},
                         self.manager.get_aggregate(
                             self.context, self.agg['id'])['metadata'])

    def test_if_match_on_a_missing_aggregate_is_not_found(self):
        response = self.request('POST', '/v2.1/os-aggregates/999/action',
                                {'add_host': {'host': 'host1'}},
                                headers={'If-Match': '*'})
        self.assertFault(response, 404, 'itemNotFound')

    def test_if_match_xml_fault_on_the_legacy_surface(self):
        legacy = '/v1.1/admin/os-aggregates/%d.xml' % self.agg['id']
        response = self.request('PUT', legacy,
                                {'aggregate': {'name': 'x'}},
                                headers={'If-Match': '"0-x"'})
        self.assertXMLFault(response, 412, 'preconditionFailed',
                            'has changed since')

    def test_no_header_no_change(self):
        # Without the headers, an unchanged aggregate is answered in full
        # and changes go through whatever was read before.
        tag = self.etag()
        self.act({'set_metadata': {'metadata': {'k': 'v'}}})
        response = self.act({'set_metadata': {'metadata': {'k': 'w'}}})
        self.assertNotEqual(tag, response.headers['ETag'])
        self.assertEqual(200, self.get().status_int)

    # -- renderings kept for unchanged aggregates (api/rendered.py) ---------

    def listed(self, headers=None, url='/v2.1/os-aggregates'):
        response = self.get(url, headers)
        self.assertEqual(200, response.status_int, response.body)
        return {a['id']: a for a in json.loads(response.body)['aggregates']}

    def test_a_change_elsewhere_is_shown_at_once(self):
        # Renderings are kept by the list and show; a change made below
        # the API (as another process or node makes it) is seen anyway.
        other = self.create_aggregate('other')
        self.listed()
        self.get()
        self.manager.set_metadata(self.context, self.agg['id'],
                                  {'k': 'v'})
        self.manager.update_aggregate(self.context, other['id'],
                                      name='renamed')
        listed = self.listed()
        self.assertEqual('v', listed[self.agg['id']]['metadata']['k'])
        self.assertEqual('renamed', listed[other['id']]['name'])
        shown = json.loads(self.get().body)['aggregate']
        self.assertEqual(listed[self.agg['id']], shown)
        self.manager.delete_aggregate(self.context, other['id'])
        self.assertEqual([self.agg['id']], list(self.listed()))

    def test_an_unchanged_list_is_the_list_kept(self):
        self.create_aggregate('other')
        first = self.get('/v2.1/os-aggregates')
        with sql.StatementCounter(db_api.get_engine(),
                                  queries_only=True) as counter:
            again = self.get('/v2.1/os-aggregates')
        self.assertEqual((first.body, first.headers['ETag']),
                         (again.body, again.headers['ETag']))
        self.assertEqual(self.UNCHANGED_LIST_STATEMENTS, counter.count,
                         counter.statements)
        self.act({'set_metadata': {'metadata': {'k': 'v'}}})
        changed = self.get('/v2.1/os-aggregates')
        self.assertNotEqual(first.headers['ETag'], changed.headers['ETag'])
        self.assertEqual({'k': 'v', 'availability_zone': 'az1'}, json.loads(
            changed.body)['aggregates'][0]['metadata'])

    #: Statements of a list of unchanged aggregates: the list's version
    #: (the own store), or what every list reads (the nova_api store).
    UNCHANGED_LIST_STATEMENTS = 1

    def test_each_representation_is_rendered_for_itself(self):
        legacy = '/v1.1/admin/os-aggregates'
        for _ in range(2):
            plain = self.listed()[self.agg['id']]
            latest = self.listed(V241)[self.agg['id']]
            old = self.listed(url=legacy)[self.agg['id']]
            shown = json.loads(self.get(headers=V241).body)['aggregate']
        self.assertNotIn('uuid', plain)
        self.assertEqual(latest, shown)
        self.assertEqual(plain, {k: v for k, v in latest.items()
                                 if k != 'uuid'})
        self.assertIn('operational_state', old)
        self.assertNotIn('uuid', old)

    def test_lists_stay_right_past_the_renderings_limit(self):
        self.useFixture(fixtures.MonkeyPatch(
            'nova_aggregates.api.rendered.LIMIT', 2))
        for number in range(5):
            self.create_aggregate('n%d' % number)
        for _ in range(3):
            listed = self.listed()
            self.assertEqual(['web'] + ['n%d' % n for n in range(5)],
                             [a['name'] for a in listed.values()])
            for agg in listed.values():
                self.assertEqual(agg, json.loads(self.get(
                    '/v2.1/os-aggregates/%d' % agg['id']).body)['aggregate'])


class TestConditionalRequestsNovaAPI(ConditionalTests):
    """The nova_api store: versions are made of the content (Nova changes
    its tables without telling us), and a 304 reads what a 200 reads."""

    NOT_MODIFIED_STATEMENTS = 2
    UNCHANGED_LIST_STATEMENTS = 2
    POLL_WITHOUT_HANDLER = False
    database_fixture = test_nova_api_store.NovaAPIDatabaseFixture

    def test_a_change_by_nova_changes_the_etags(self):
        tags = self.etag(), self.etag('/v2.1/os-aggregates')
        meta = db_api.aggregate_metadata
        with db_api.get_engine().begin() as conn:
            conn.execute(meta.insert().values(
                aggregate_id=self.agg['id'], key='by-nova', value='1',
                created_at=sa.func.now()))
        self.assertNotEqual(tags[0], self.etag())
        self.assertNotEqual(tags[1], self.etag('/v2.1/os-aggregates'))
        # And If-Match sees it too.
        response = self.act({'set_metadata': {'metadata': {'k': 'v'}}},
                            tags[0], expected=412)
        self.assertPreconditionFailed(response)
