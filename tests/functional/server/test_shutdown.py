"""Stopping ``nova-aggregates-api`` promptly: Ctrl-C (SIGINT to the whole
process group, as a terminal sends it) and SIGTERM (to the master, as a
service manager sends it) with idle keep-alive connections and silent
clients open.  The server exits within ``PROMPT`` seconds with status 0,
without gunicorn's "was sent SIGKILL! Perhaps out of memory?", and the
requests in progress (one being sent, one being processed) finish.

The servers run as ``make serve`` runs them: xenapi driver on the embedded
XenServer simulator.
"""

import http.client
import json
import os
import re
import signal
import threading
import time
import urllib.request

import requests
import testtools
from testtools import content

from tests.functional.clients import server as srv
from tests.functional.server import wire

#: Seconds a stop may take with only idle and silent clients.
PROMPT = 3.0
HEADERS = {'X-Auth-Token': wire.ADMIN, 'Content-Type': 'application/json'}


class ShutdownTests(testtools.TestCase):
    """Under ``[api] server = gunicorn`` (our worker)."""

    SERVER = 'gunicorn'
    #: The Connection header of a kept-alive response.
    KEEP_ALIVE_HEADER = 'keep-alive'

    def start(self):
        server = self.useFixture(srv.APIServerFixture(
            driver='xenapi', sections={'api': {'server': self.SERVER}}))
        self.addDetail('server-log-%d' % server.port,
                       content.Content(content.UTF8_TEXT,
                                       lambda: [server.output().encode()]))
        return server

    def open_idle_clients(self, server):
        """What a stopping server must not wait for: kept-alive
        connections after a request, a connection with nothing sent, half a
        request head, a head and part of a body."""
        for _ in range(3):
            conn = http.client.HTTPConnection('127.0.0.1', server.port,
                                              timeout=30)
            self.addCleanup(conn.close)
            conn.request('GET', '/v2.1/os-aggregates', headers=HEADERS)
            response = conn.getresponse()
            response.read()
            self.assertEqual(200, response.status)
            self.assertFalse(response.will_close)
            self.assertEqual(self.KEEP_ALIVE_HEADER,
                             response.getheader('Connection'))
        session = requests.Session()
        self.addCleanup(session.close)
        self.assertEqual(200, session.get(
            server.base_url + '/v2.1/os-aggregates', headers=HEADERS,
            timeout=30).status_code)
        for data in (b'',
                     b'GET /v2.1/os-aggregates HTTP/1.1\r\nHost: x\r\n',
                     wire.head('POST', '/v2.1/os-aggregates',
                               (('Content-Type', 'application/json'),),
                               length=1000) + b'{"aggregate": '):
            sock = wire.connect(server.port)
            self.addCleanup(sock.close)
            if data:
                sock.sendall(data)
        # Let the server take them all in.
        time.sleep(0.3)

    def stop(self, server, sig, group):
        started = time.monotonic()
        if group:
            os.killpg(server.proc.pid, sig)
        else:
            server.proc.send_signal(sig)
        try:
            returncode = server.proc.wait(40)
        except Exception:
            self.fail('the server did not stop within 40s:\n%s'
                      % server.output())
        elapsed = time.monotonic() - started
        self.addDetail('stop-seconds', content.text_content('%.2f' % elapsed))
        return returncode, elapsed

    def assertCleanExit(self, server, returncode):
        log = server.output()
        self.assertEqual(0, returncode, log)
        self.assertNotIn('SIGKILL', log)
        self.assertNotIn('out of memory', log)
        self.assertNotIn('Traceback', log)

    # -- idle and silent clients --------------------------------------------

    def test_ctrl_c_sigint_to_the_process_group(self):
        server = self.start()
        self.open_idle_clients(server)
        returncode, elapsed = self.stop(server, signal.SIGINT, group=True)
        self.assertCleanExit(server, returncode)
        self.assertLess(elapsed, PROMPT, server.output())

    def test_sigterm_to_the_master(self):
        server = self.start()
        self.open_idle_clients(server)
        returncode, elapsed = self.stop(server, signal.SIGTERM, group=False)
        self.assertCleanExit(server, returncode)
        self.assertLess(elapsed, PROMPT, server.output())

    # -- requests in progress finish ----------------------------------------

    def test_request_being_sent_is_served(self):
        # Headers and half the body before the signal, the rest just after:
        # the request is answered (and the connection closed).
        for sig, group in ((signal.SIGINT, True), (signal.SIGTERM, False)):
            server = self.start()
            self.open_idle_clients(server)
            body = b'{"aggregate": {"name": "in-flight"}}'
            sock = wire.connect(server.port)
            self.addCleanup(sock.close)
            sock.sendall(wire.head('POST', '/v2.1/os-aggregates',
                                   (('Content-Type', 'application/json'),),
                                   length=len(body)) + body[:10])
            time.sleep(0.2)
            started = time.monotonic()
            if group:
                os.killpg(server.proc.pid, sig)
            else:
                server.proc.send_signal(sig)
            time.sleep(0.3)
            sock.sendall(body[10:])
            answer = wire.read_answer(sock, timeout=10)
            self.assertEqual(200, answer.status, (sig, answer))
            self.assertEqual('in-flight', answer.json()['aggregate']['name'])
            self.assertEqual('close', answer.header('connection'))
            returncode = server.proc.wait(40)
            self.assertLess(time.monotonic() - started, PROMPT)
            self.assertCleanExit(server, returncode)

    def test_request_being_processed_finishes(self):
        server = self.start()
        control = re.search(r'simulator control at (\S+)',
                            server.output()).group(1)
        conn = http.client.HTTPConnection('127.0.0.1', server.port,
                                          timeout=30)
        self.addCleanup(conn.close)

        def call(method, path, body=None):
            conn.request(method, path, headers=HEADERS,
                         body=json.dumps(body) if body else None)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b'null')

        status, body = call('POST', '/v2.1/os-aggregates',
                            {'aggregate': {'name': 'rack1'}})
        self.assertEqual(200, status, body)
        agg_id = body['aggregate']['id']
        status, body = call(
            'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
            {'set_metadata': {'metadata': {'hypervisor_pool': 'true'}}})
        self.assertEqual(200, status, body)
        # Forming the pool (the first add_host) takes 1.5 s more.
        urllib.request.urlopen(urllib.request.Request(
            control.rstrip('/') + '/faults', method='POST',
            data=json.dumps({'method': 'pool.set_name_label',
                             'delay': 1.5}).encode(),
            headers={'Content-Type': 'application/json'}), timeout=10).read()
        self.open_idle_clients(server)
        result = {}

        def add_host():
            result['answer'] = call(
                'POST', '/v2.1/os-aggregates/%d/action' % agg_id,
                {'add_host': {'host': 'xenhost1'}})
            result['at'] = time.monotonic()

        thread = threading.Thread(target=add_host, daemon=True)
        thread.start()
        time.sleep(0.5)
        signalled = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGINT)
        thread.join(30)
        status, body = result['answer']
        self.assertEqual(200, status, body)
        self.assertEqual(['xenhost1'], body['aggregate']['hosts'])
        # It was still being processed when the signal came.
        self.assertGreater(result['at'], signalled + 0.5)
        returncode = server.proc.wait(40)
        self.assertLess(time.monotonic() - result['at'], PROMPT)
        self.assertCleanExit(server, returncode)


class GranianShutdownTests(ShutdownTests):
    """Under ``[api] server = granian``."""

    SERVER = 'granian'
    # HTTP/1.1's default, not said.
    KEEP_ALIVE_HEADER = None
