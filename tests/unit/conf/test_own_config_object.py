"""Our options live on our own ConfigOpts object, never on oslo.config's
global ``cfg.CONF``: in another service's process (the extensions filter in
Nova) that object is the host's, and our options would clash with its own
(``DuplicateOptError: compute_driver``) and read its files."""

import json
import subprocess
import sys

import testtools

_PROBE = r'''
import importlib, json, pkgutil
from oslo_config import cfg
# Libraries that register options on the global object at import do so
# whoever imports them: import them first, so only ours are compared.
import keystonemiddleware.auth_token, oslo_db.options, oslo_log.log
import oslo_messaging, oslo_middleware.cors, oslo_policy.policy
before = (set(cfg.CONF._groups), set(cfg.CONF._opts))
import nova_aggregates
for module in pkgutil.walk_packages(nova_aggregates.__path__,
                                    'nova_aggregates.'):
    # Alembic's scripts run only under alembic; nova_aggregates.wsgi
    # starts the standalone service when imported.
    if module.name.endswith(('__main__', '.wsgi')) or \
            'migrations' in module.name:
        continue
    importlib.import_module(module.name)
from nova_aggregates import conf as na_conf
from nova_aggregates.policy import get_enforcer
na_conf.CONF([], project='nova-aggregates', default_config_files=[])
get_enforcer()
after = (set(cfg.CONF._groups), set(cfg.CONF._opts))
print(json.dumps({
    'groups': sorted(after[0] - before[0]),
    'opts': sorted(after[1] - before[1]),
    'ours_is_global': na_conf.CONF is cfg.CONF,
    'ours_has_compute_driver': 'compute_driver' in na_conf.CONF,
}))
'''


class TestOwnConfigObject(testtools.TestCase):

    def test_no_import_registers_on_the_global_object(self):
        run = subprocess.run([sys.executable, '-c', _PROBE],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(0, run.returncode, run.stderr)
        found = json.loads(run.stdout.strip().splitlines()[-1])
        self.assertEqual({'groups': [], 'opts': [], 'ours_is_global': False,
                          'ours_has_compute_driver': True}, found)
