"""The composition root: one database configuration and one set of services
per process (the AggregateManager with its driver, compute host
registration, crash recovery), shared by every pipeline that paste
builds."""

import threading

from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates.aggregates import recovery
from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates.db import api as db_api


class Services:
    def __init__(self, conf):
        self.conf = conf
        self.aggregates = aggregate_manager.AggregateManager(conf)
        self.compute_hosts = compute_hosts.ComputeHosts(conf)
        self.recovery = recovery.Recovery(self.aggregates)

    def cleanup(self):
        self.aggregates.driver.cleanup()

    def ping_database(self):
        """Raise unless the database answers a trivial query (the health
        check's database backend)."""
        db_api.ping(context.get_admin_context())


_lock = threading.Lock()
_services = None


def load_config(config_files):
    """Parse our configuration unless this process already did (the API
    command and the WSGI module do; a foreign paste pipeline may not)."""
    conf = na_conf.CONF
    if getattr(conf, '_namespace', None) is not None:
        return conf
    argv = []
    for path in config_files:
        argv.extend(['--config-file', path])
    conf(argv, project='nova-aggregates', default_config_files=[])
    return conf


def get_services(conf=None):
    global _services
    with _lock:
        if _services is None:
            conf = conf or na_conf.CONF
            db_api.configure(conf)
            _services = Services(conf)
        return _services


def reset():
    """Forget the process's services (tests, and a config reload)."""
    global _services
    with _lock:
        if _services is not None:
            _services.cleanup()
        _services = None
    db_api.dispose()
