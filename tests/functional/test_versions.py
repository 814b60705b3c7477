"""Version discovery: ``GET /`` and the document of each surface, which
clients (openstackclient, novaclient) read before they authenticate."""

from tests import base

HOST = 'http://localhost'
REQUEST_ID = '^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-' \
             '[0-9a-f]{12}$'

SURFACES = {
    # prefix: (id, status, version, min_version)
    'v1.1': ('v1.1', 'DEPRECATED', '', ''),
    'v2': ('v2.0', 'SUPPORTED', '', ''),
    'v2.1': ('v2.1', 'CURRENT', '2.41', '2.1'),
}


class TestVersions(base.APITestCase):

    def assertRequestId(self, response):
        self.assertRegex(response.headers.get('x-compute-request-id', ''),
                         REQUEST_ID)
        self.assertEqual(response.headers['x-compute-request-id'],
                         response.headers['x-openstack-request-id'])

    def test_root_lists_every_surface(self):
        response = self.request('GET', '/', token=None)
        self.assertEqual(200, response.status_int, response.body)
        self.assertEqual('application/json', response.content_type)
        self.assertRequestId(response)
        versions = response.json['versions']
        self.assertEqual(['v1.1', 'v2.0', 'v2.1'],
                         [v['id'] for v in versions])
        for doc, (prefix, expected) in zip(versions, SURFACES.items()):
            self.assertEqual(expected, (doc['id'], doc['status'],
                                        doc['version'], doc['min_version']))
            self.assertEqual([{'rel': 'self',
                               'href': '%s/%s/' % (HOST, prefix)}],
                             doc['links'])
        current = [v for v in versions if v['status'] == 'CURRENT']
        self.assertEqual(['v2.1'], [v['id'] for v in current])

    def test_root_with_a_token(self):
        response = self.request('GET', '/')
        self.assertEqual(200, response.status_int)
        self.assertEqual(3, len(response.json['versions']))

    def test_root_uses_the_host_of_the_request(self):
        response = self.request('GET', '/', token=None,
                                headers={'Host': 'api.example.org:8774'})
        self.assertEqual('http://api.example.org:8774/v2.1/',
                         response.json['versions'][2]['links'][0]['href'])

    def test_each_surface_document_without_a_token(self):
        for prefix, (version_id, status, version, minimum) in \
                SURFACES.items():
            for path in ('/' + prefix, '/' + prefix + '/'):
                response = self.request('GET', path, token=None)
                self.assertEqual(200, response.status_int,
                                 (path, response.body))
                self.assertEqual('application/json', response.content_type)
                self.assertRequestId(response)
                doc = response.json['version']
                self.assertEqual((version_id, status, version, minimum),
                                 (doc['id'], doc['status'], doc['version'],
                                  doc['min_version']), path)
                self_links = [link['href'] for link in doc['links']
                              if link['rel'] == 'self']
                self.assertEqual(['%s/%s/' % (HOST, prefix)], self_links,
                                 path)
                self.assertEqual(
                    [{'base': 'application/json',
                      'type': 'application/vnd.openstack.compute+json;'
                              'version=%s' % version_id[1:]}],
                    doc['media-types'])
                self.assertIn('updated', doc)

    def test_documents_answer_any_token_or_keystone_state(self):
        for token in (None, 'notused', 'bob:bob', 'admin:admin'):
            response = self.request('GET', '/v2.1', token=token)
            self.assertEqual(200, response.status_int, token)
            self.assertEqual('v2.1', response.json['version']['id'])

    def test_self_link_is_a_usable_base(self):
        href = self.request('GET', '/v2.1', token=None).json[
            'version']['links'][0]['href']
        path = href[len(HOST):]
        body = self.json_request('GET', path + 'os-aggregates')
        self.assertEqual({'aggregates': []}, body)

    def test_a_surface_document_needs_no_project(self):
        response = self.request('GET', '/v1.1/', token=None)
        self.assertEqual('v1.1', response.json['version']['id'])
        self.assertFault(self.request('GET', '/v1.1/os-aggregates'), 404,
                         'itemNotFound', 'Unknown URL')

    def test_unknown_version(self):
        for path in ('/v3', '/v3/', '/v2.2', '/v1', '/v2.1x', '/versions'):
            response = self.request('GET', path, token=None)
            self.assertFault(response, 404, 'itemNotFound', 'Unknown URL')
            self.assertRequestId(response)

    def test_documents_are_read_only(self):
        for path in ('/', '/v1.1', '/v2/', '/v2.1'):
            response = self.request('POST', path, {'version': {}},
                                    token=None)
            self.assertFault(response, 405, 'badMethod',
                             'Method POST is not allowed here.')
            self.assertEqual('GET', response.headers['Allow'])

    def test_head(self):
        for path in ('/', '/v2.1'):
            response = self.request('HEAD', path, token=None)
            self.assertEqual(200, response.status_int, path)
            self.assertEqual('application/json', response.content_type)
            self.assertEqual(b'', response.body)
