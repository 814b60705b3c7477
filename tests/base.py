"""Base test case classes."""

import json
from xml.etree import ElementTree

import testtools

from tests import fixtures as na_fixtures

XML_FAULT_NAMESPACE = 'http://docs.openstack.org/compute/api/v1.1'


class TestCase(testtools.TestCase):
    """Configuration and a fresh database, no API application."""

    def setUp(self):
        super().setUp()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        self.conf = self.conf_fixture.conf
        self.db = self.useFixture(na_fixtures.DatabaseFixture(
            self.conf_fixture))


class JSONRequestMixin:
    """``json_request()`` for test cases whose ``request()`` answers with a
    webob response (the in-process application)."""

    def json_request(self, method, path, *args, expected=200, **kwargs):
        """Send a request, assert its status, return the decoded body."""
        response = self.request(method, path, *args, **kwargs)
        self.assertEqual(expected, response.status_int,
                         '%s %s -> %s' % (method, path, response.body))
        return json.loads(response.body) if response.body else None


class APITestCase(JSONRequestMixin, testtools.TestCase):
    """The whole paste pipeline on a fresh database, fake driver."""

    compute_driver = 'fake'
    #: ``{(group, name): value}`` set before the application loads.
    config_overrides = {}
    #: The DatabaseFixture class (None: the own store's, SQLite).
    database_fixture = None

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(na_fixtures.APIFixture(
            compute_driver=self.compute_driver,
            overrides=self.config_overrides,
            database_fixture=self.database_fixture))
        self.conf_fixture = self.api.conf_fixture
        self.conf = self.conf_fixture.conf
        self.context = self.api.context
        self.manager = self.api.services.aggregates

    def request(self, *args, **kwargs):
        return self.api.request(*args, **kwargs)

    def assertFault(self, response, status, name, message_part=None):
        self.assertEqual(status, response.status_int, response.body)
        self.assertEqual('application/json', response.content_type)
        body = json.loads(response.body)
        self.assertEqual([name], list(body), body)
        self.assertEqual(status, body[name]['code'])
        self.assertNotIn('Traceback', body[name]['message'])
        if message_part is not None:
            self.assertIn(message_part, body[name]['message'])
        return body[name]['message']

    def assertXMLFault(self, response, status, name, message_part=None):
        """An XML fault: root named after the fault in the compute
        namespace, attribute ``code``, child ``<message>``."""
        self.assertEqual(status, response.status_int, response.body)
        self.assertEqual('application/xml', response.content_type)
        root = ElementTree.fromstring(response.body)
        self.assertEqual('{%s}%s' % (XML_FAULT_NAMESPACE, name), root.tag)
        self.assertEqual(str(status), root.get('code'))
        message = root.findtext('{%s}message' % XML_FAULT_NAMESPACE)
        self.assertIsNotNone(message, response.body)
        self.assertNotIn('Traceback', message)
        if message_part is not None:
            self.assertIn(message_part, message)
        return message

    def create_aggregate(self, name='agg1', zone=None, prefix='/v2.1'):
        body = {'aggregate': {'name': name}}
        if zone is not None:
            body['aggregate']['availability_zone'] = zone
        return self.json_request('POST', prefix + '/os-aggregates',
                                 body)['aggregate']

    def action(self, aggregate_id, action, value, expected=200,
               prefix='/v2.1'):
        return self.json_request(
            'POST', '%s/os-aggregates/%s/action' % (prefix, aggregate_id),
            {action: value}, expected=expected)
