"""The operator guide's examples, run as a person following it would."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import testtools

from tests.functional.cmd import test_commands

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                     'operator-guide.md')
BIN = os.path.dirname(sys.executable)

_STAND_IN = '''
def app_factory(global_conf, **local_conf):
    def compute(environ, start_response):
        start_response('202 Accepted', [('Content-Type', 'text/plain')])
        return [b'compute: ' + environ['PATH_INFO'].encode('latin-1')]
    return compute
'''


def tested_block(marker):
    """The first fenced block after ``<!-- tested: marker -->``."""
    with open(GUIDE) as f:
        text = f.read()
    match = re.search(r'<!-- tested: %s -->\n```\w*\n(.*?)```'
                      % re.escape(marker), text, re.S)
    if match is None:
        raise AssertionError('no block tested by %s in the guide' % marker)
    return match.group(1)


class TestExistingPipelineLocally(testtools.TestCase):
    """The noauth2 form of "Deploying into an existing api-paste.ini
    pipeline", served with nova-aggregates-api as the guide says."""

    def test_the_example_serves_ours_and_passes_the_rest_on(self):
        ini = tested_block('tests/functional/test_operator_guide.py')
        self.assertIn('your.compute.api:app_factory', ini)
        cmd = self.useFixture(test_commands.CommandFixture())
        paste = os.path.join(cmd.dir, 'combined-paste.ini')
        with open(paste, 'w') as f:
            f.write(ini.replace('/etc/nova-aggregates/nova-aggregates.conf',
                                cmd.config)
                    .replace('your.compute.api:app_factory',
                             'stand_in:app_factory'))
        with open(os.path.join(cmd.dir, 'stand_in.py'), 'w') as f:
            f.write(_STAND_IN)
        with open(cmd.config, 'a') as f:
            f.write('[api]\napi_paste_config = %s\n' % paste)
        self.assertEqual(0, cmd.manage('db', 'sync').returncode)
        log = open(os.path.join(cmd.dir, 'api.log'), 'w+')
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [os.path.join(BIN, 'nova-aggregates-api'), '--config-file',
             cmd.config], stdout=log, stderr=subprocess.STDOUT,
            cwd=cmd.dir, start_new_session=True,
            env=dict(os.environ, PYTHONPATH=cmd.dir))
        self.addCleanup(self._stop, proc)
        base = 'http://127.0.0.1:%d' % cmd.port

        def call(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            request = urllib.request.Request(
                base + path, data=data, method=method,
                headers={'X-Auth-Token': 'admin:admin',
                         'Content-Type': 'application/json'})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as exc:
                with exc:
                    return exc.code, exc.read()

        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = call('GET', '/v2.1/servers')
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    self.fail('server did not start:\n' + log.read())
                time.sleep(0.1)
        self.assertEqual(202, status)
        status, body = call('POST', '/v2.1/os-aggregates',
                            {'aggregate': {'name': 'guide'}})
        self.assertEqual(200, status, body)
        status, body = call('GET', '/v2/admin/os-aggregates')
        self.assertEqual(200, status, body)
        self.assertEqual(['guide'], [a['name'] for a in
                                     json.loads(body)['aggregates']])
        status, body = call('GET', '/v2.1/flavors')
        self.assertEqual((202, b'compute: /flavors'), (status, body))

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
