"""The operator guide's examples, run as a person following it would."""

import json
import os
import re
import signal

import testtools

from tests.functional.cmd import test_commands

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', 'doc',
                     'operator-guide.md')

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
        # The stand-in answers /v2.1/servers: up when it does (202).
        server = cmd.server(cwd=cmd.dir, ready_path='/v2.1/servers',
                            ready_status=None,
                            env=dict(os.environ, PYTHONPATH=cmd.dir))
        self.addCleanup(server.stop, signal.SIGTERM)
        server.start()

        def call(method, path, body=None):
            response = server.request(method, path, body, timeout=10)
            return response.status, response.body

        status, _ = call('GET', '/v2.1/servers')
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
