"""The committed sample config and policy files match what the generators
produce now (regenerate with `tox -e genconfig` / `tox -e genpolicy`)."""

import os
import subprocess
import sys

import fixtures
import testtools

from tests import fixtures as na_fixtures


class TestSamplesAreCurrent(testtools.TestCase):

    def _generate(self, command, config, sample):
        tmp = self.useFixture(fixtures.TempDir()).path
        out = os.path.join(tmp, 'sample')
        subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), command),
             '--config-file', os.path.join(na_fixtures.REPO, 'etc', config),
             '--output-file', out],
            check=True, cwd=na_fixtures.REPO, capture_output=True)
        with open(out) as generated, open(os.path.join(
                na_fixtures.REPO, 'etc', sample)) as committed:
            self.assertEqual(generated.read(), committed.read(),
                             'etc/%s is stale: regenerate it' % sample)

    def test_config_sample(self):
        self._generate('oslo-config-generator', 'oslo-config-generator.conf',
                       'nova-aggregates.conf.sample')

    def test_policy_sample(self):
        self._generate('oslopolicy-sample-generator', 'oslo-policy-generator.conf',
                       'policy.yaml.sample')
