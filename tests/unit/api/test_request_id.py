import uuid

import testtools

from nova_aggregates.api import middleware


class TestNewRequestId(testtools.TestCase):

    def test_a_random_uuid_after_req(self):
        for _ in range(200):
            request_id = middleware.new_request_id()
            self.assertTrue(request_id.startswith('req-'), request_id)
            parsed = uuid.UUID(request_id[4:])
            self.assertEqual(4, parsed.version)
            self.assertEqual(uuid.RFC_4122, parsed.variant)
            # The canonical text of the UUID, lower case, with its dashes.
            self.assertEqual(str(parsed), request_id[4:])
            # What the global request id check accepts from a client.
            self.assertIsNotNone(middleware._GLOBAL_ID.match(request_id))

    def test_unique(self):
        ids = {middleware.new_request_id() for _ in range(10000)}
        self.assertEqual(10000, len(ids))
