import os
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

    def test_a_forked_child_makes_its_own(self):
        # Ids made ahead in the parent are not handed out by a worker
        # forked from it.
        middleware.new_request_id()
        self.assertTrue(middleware._request_ids)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                os.write(write, ('%d %s' % (
                    len(middleware._request_ids),
                    middleware.new_request_id())).encode())
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as fh:
            answer = fh.read()
        os.waitpid(pid, 0)
        left_in_child, child_id = answer.split()
        self.assertEqual('0', left_in_child)
        self.assertNotIn(child_id, middleware._request_ids)
        self.assertNotEqual(child_id, middleware.new_request_id())
