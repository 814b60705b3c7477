"""api/conditional.py: entity tags, If-None-Match and If-Match parsing."""

import testtools
import webob

from nova_aggregates.api import conditional
from nova_aggregates.api import microversion


class _Request(webob.Request):
    """What the router sets on a request before a handler runs."""

    legacy = False
    wants_xml = False
    api_version = microversion.MIN_VERSION

    def is_legacy(self):
        return self.legacy


def request(headers=None, **attributes):
    req = _Request.blank('/v2.1/os-aggregates/1', headers=headers or {})
    for name, value in attributes.items():
        setattr(req, name, value)
    return req


class TestEntityTags(testtools.TestCase):

    def test_the_representation_is_part_of_the_tag(self):
        self.assertEqual('"7-v"', conditional.etag(request(), '7'))
        self.assertEqual('"7-u"', conditional.etag(
            request(api_version=microversion.UUID_IN_AGGREGATES), '7'))
        self.assertEqual('"7-l"', conditional.etag(request(legacy=True),
                                                   '7'))
        self.assertEqual('"7-x"', conditional.etag(
            request(legacy=True, wants_xml=True), '7'))

    def test_if_none_match(self):
        for header in ('"7-v"', 'W/"7-v"', '"1-v", "7-v"', ' * ',
                       '"1-v",W/"7-v"'):
            response = conditional.not_modified(
                request({'If-None-Match': header}), '7')
            self.assertIsNotNone(response, header)
            self.assertEqual(304, response.status_int)
            self.assertEqual('"7-v"', response.headers['ETag'])
            self.assertEqual(b'', response.body)
        for header in ('"7-u"', '"8-v"', '7-v', '"7-v', '', ',,', 'W/'):
            self.assertIsNone(conditional.not_modified(
                request({'If-None-Match': header}), '7'), header)
        # No header, or a version not known without reading.
        self.assertIsNone(conditional.not_modified(request(), '7'))
        self.assertIsNone(conditional.not_modified(
            request({'If-None-Match': '*'}), None))

    def test_if_match(self):
        self.assertIsNone(conditional.expected_versions(request()))
        self.assertIsNone(conditional.expected_versions(
            request({'If-Match': '*'})))
        self.assertEqual(('7',), conditional.expected_versions(
            request({'If-Match': '"7-x"'})))
        self.assertEqual(('7', 'ab12'), conditional.expected_versions(
            request({'If-Match': '"7-v", W/"8-v", "ab12-l"'})))
        # Nothing usable: nothing can match (412), not "no condition".
        for header in ('W/"7-v"', 'garbage', '"nodash"', ''):
            self.assertEqual((), conditional.expected_versions(
                request({'If-Match': header})), header)
