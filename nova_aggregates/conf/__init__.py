"""All configuration options, declared in one place.

Each module below owns one option group; ``register_opts`` puts them all on
a ConfigOpts object.  ``CONF`` is the process-wide instance used by the
commands and by the tests, whose overrides ``tests.fixtures.ConfFixture``
undoes after each test.
"""

from oslo_config import cfg

from nova_aggregates.conf import api
from nova_aggregates.conf import compute
from nova_aggregates.conf import database
from nova_aggregates.conf import xenapi
from nova_aggregates.conf import xenserver_sim

CONF = cfg.CONF

_MODULES = (api, compute, database, xenapi, xenserver_sim)


def register_opts(conf):
    for module in _MODULES:
        module.register_opts(conf)


register_opts(CONF)
