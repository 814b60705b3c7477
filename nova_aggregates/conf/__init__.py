"""All configuration options, declared in one place.

Each module below owns one option group; ``register_opts`` puts them all on
a ConfigOpts object.  ``CONF`` is the service's own instance, used by the
commands, the paste filters and the tests (whose overrides
``tests.fixtures.ConfFixture`` undoes after each test).

It is deliberately not oslo.config's global ``cfg.CONF``: inside another
service's process (the ``extensions`` filter in Nova's pipeline) that object
is the host's, and registering our options on it clashes with the host's
own (``DuplicateOptError: compute_driver``) and reads the host's files
instead of ours.
"""

from oslo_config import cfg

from nova_aggregates.conf import api
from nova_aggregates.conf import compute
from nova_aggregates.conf import coordination
from nova_aggregates.conf import database
from nova_aggregates.conf import filter_scheduler
from nova_aggregates.conf import maintenance
from nova_aggregates.conf import placement
from nova_aggregates.conf import xenapi
from nova_aggregates.conf import xenserver_sim

CONF = cfg.ConfigOpts()

_MODULES = (api, compute, coordination, database, filter_scheduler,
            maintenance, placement, xenapi, xenserver_sim)


def register_opts(conf):
    for module in _MODULES:
        module.register_opts(conf)


register_opts(CONF)
