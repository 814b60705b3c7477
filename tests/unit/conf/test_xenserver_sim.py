"""``[xenserver_sim]`` options, and their deprecated ``[xenapi]
embedded_simulator_*`` names from configuration files written before."""

import os

import fixtures
from oslo_config import cfg
import testtools

from nova_aggregates import conf as na_conf
from tests import fixtures as na_fixtures

OLD_STYLE = """
[xenapi]
connection_password = secret
embedded_simulator_hosts = 3
embedded_simulator_password = hunter2
embedded_simulator_port = 8790
embedded_simulator_control_port = 8789
"""

NEW_STYLE = """
[xenapi]
connection_password = secret

[xenserver_sim]
hosts = 3
password = hunter2
port = 8790
control_port = 8789
"""


class TestXenServerSimOptions(testtools.TestCase):

    def load(self, text=None, path=None):
        """A fresh ConfigOpts with every option, read from ``text``."""
        if path is None:
            path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                'nova-aggregates.conf')
            with open(path, 'w') as f:
                f.write(text)
        conf = cfg.ConfigOpts()
        na_conf.register_opts(conf)
        conf(['--config-file', path], project='nova-aggregates',
             default_config_files=[])
        self.addCleanup(conf.reset)
        return conf

    def settings(self, conf):
        sim = conf.xenserver_sim
        return sim.hosts, sim.password, sim.port, sim.control_port

    def test_defaults_leave_it_off(self):
        conf = self.load('[DEFAULT]\n')
        self.assertEqual((0, 'secret', 0, 0), self.settings(conf))

    def test_new_names(self):
        conf = self.load(NEW_STYLE)
        self.assertEqual((3, 'hunter2', 8790, 8789), self.settings(conf))

    def test_old_names_still_work(self):
        # oslo.config reports through oslo.log's versionutils when it is
        # imported (once per message and process) and logs itself when not:
        # listen to every logger, and let this test's reports through.
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_log.versionutils._deprecated_messages_sent', {}))
        logger = self.useFixture(fixtures.FakeLogger(name=None))
        conf = self.load(OLD_STYLE)
        self.assertEqual((3, 'hunter2', 8790, 8789), self.settings(conf))
        # oslo.config says which name to use instead.
        self.assertIn('embedded_simulator_hosts', logger.output)
        self.assertIn('xenserver_sim', logger.output)

    def test_new_name_wins_over_old(self):
        conf = self.load(OLD_STYLE + '\n[xenserver_sim]\nhosts = 1\n')
        self.assertEqual((1, 'hunter2', 8790, 8789), self.settings(conf))

    def test_make_serve_configuration(self):
        conf = self.load(path=os.path.join(
            na_fixtures.REPO, 'etc', 'nova-aggregates-dev.conf'))
        self.assertEqual((4, 'secret', 8780, 8779), self.settings(conf))
        self.assertEqual('secret', conf.xenapi.connection_password)
