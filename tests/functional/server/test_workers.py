"""The worker processes of ``nova-aggregates-api``, under each server: they
all serve, each runs its own rolling maintenance task runner
(``[maintenance] task_runner``, started per worker as gunicorn's
``post_fork`` hook starts it), our request log reaches the configured log,
and the server's own access log stays off."""

import http.client
import json
import re
import time

import testtools
from testtools import content

from tests.functional.clients import server as srv
from tests.functional.server import wire

HEADERS = {'X-Auth-Token': wire.ADMIN, 'Content-Type': 'application/json'}
#: oslo.log's default format: "<date> <time> <pid> <LEVEL> <logger> ...".
REQUEST_LOG = re.compile(
    r'^\S+ \S+ (\d+) INFO nova_aggregates\.api\.requests .*? (req-[0-9a-f-]+) '
    r'"(\w+) (\S+)" status: (\d+)', re.M)


class WorkerTests(testtools.TestCase):
    """Under ``[api] server = gunicorn``."""

    SERVER = 'gunicorn'
    #: Whether new connections, one after the other, go to both workers:
    #: not with gunicorn (one shared socket, whichever worker accepts
    #: first; an idle one wins again and again).
    SPREAD = False
    #: What the server logs once a worker serves.
    WORKER_STARTED = r'Booting worker with pid'

    def setUp(self):
        super().setUp()
        self.server = self.useFixture(srv.APIServerFixture(
            driver='fake', sections={
                'api': {'server': self.SERVER, 'workers': 2},
                'maintenance': {'task_runner': 'true',
                                'task_poll_interval': 0.2}}))
        self.addOnException(lambda exc_info: self.addDetail(
            'server-log', content.text_content(
                self.server.output()[-20000:])))

    def call(self, method, path, body=None, expected=200):
        """One request on a new connection: the decoded body and the
        request id."""
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port,
                                          timeout=30)
        try:
            conn.request(method, path, headers=HEADERS,
                         body=None if body is None else json.dumps(body))
            response = conn.getresponse()
            data = response.read()
            self.assertEqual(expected, response.status, data)
            return (json.loads(data) if data else None,
                    response.getheader('x-openstack-request-id'))
        finally:
            conn.close()

    def logged(self):
        """Request id -> (pid, method, path, status) from the log."""
        return {m.group(2): (int(m.group(1)), m.group(3), m.group(4),
                             int(m.group(5)))
                for m in REQUEST_LOG.finditer(self.server.output())}

    def test_every_worker_serves_and_logs_requests(self):
        # The server answers once one worker does; the other may still be
        # loading the application.
        deadline = time.monotonic() + 30
        while len(re.findall(self.WORKER_STARTED, self.server.output())) < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
        ids = [self.call('GET', '/v2.1/os-aggregates')[1]
               for _ in range(40)]
        deadline = time.monotonic() + 5
        while True:
            logged = self.logged()
            if all(req_id in logged for req_id in ids) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for req_id in ids:
            self.assertEqual('GET', logged[req_id][1])
            self.assertEqual('/v2.1/os-aggregates', logged[req_id][2])
            self.assertEqual(200, logged[req_id][3])
        pids = {logged[req_id][0] for req_id in ids}
        self.assertNotIn(self.server.proc.pid, pids)
        if self.SPREAD:
            self.assertEqual(2, len(pids), pids)
        # One line per request: no access log of the server's own.
        output = self.server.output()
        self.assertEqual(1, len([line for line in output.splitlines()
                                 if ids[0] in line]))
        self.assertNotIn('"GET /v2.1/os-aggregates HTTP/1.1" 200', output)

    def test_each_worker_runs_maintenance_tasks(self):
        agg, _ = self.call('POST', '/v2.1/os-aggregates',
                           {'aggregate': {'name': 'rack'}})
        agg_id = agg['aggregate']['id']
        action = '/v2.1/os-aggregates/%d/action' % agg_id
        self.call('POST', action, {'set_metadata': {
            'metadata': {'hypervisor_pool': 'true'}}})
        for host in ('xenhost1', 'xenhost2'):
            self.call('POST', action, {'add_host': {'host': host}})
        # Tasks one after the other, each claimed and run by the runner
        # of one worker process (whichever polls first).
        claimed_by = set()
        create = {'rolling_maintenance': {'aggregate_id': agg_id,
                                          'host_action': 'none'}}
        for _ in range(6):
            task, _ = self.call('POST', '/v2.1/os-rolling-maintenance',
                                create, expected=202)
            task_id = task['rolling_maintenance']['id']
            deadline = time.monotonic() + 20
            while True:
                shown, _ = self.call(
                    'GET', '/v2.1/os-rolling-maintenance/%d' % task_id)
                if shown['rolling_maintenance']['state'] == 'succeeded':
                    break
                self.assertLess(time.monotonic(), deadline, shown)
                time.sleep(0.1)
            claim = re.search(
                r'^\S+ \S+ (\d+) INFO \S+ .*Rolling maintenance task %d of '
                r'aggregate %d claimed by' % (task_id, agg_id),
                self.server.output(), re.M)
            self.assertIsNotNone(claim)
            claimed_by.add(int(claim.group(1)))
        self.assertNotIn(self.server.proc.pid, claimed_by)
        workers = {pid for pid, _, _, _ in self.logged().values()}
        # Claimed in the worker processes only.
        self.assertTrue(claimed_by <= workers, (claimed_by, workers))


class GranianWorkerTests(WorkerTests):
    """Under ``[api] server = granian``."""

    SERVER = 'granian'
    # A listening socket per worker (SO_REUSEPORT): the kernel spreads
    # connections over them.
    SPREAD = True
    WORKER_STARTED = r'Started worker-\d'
