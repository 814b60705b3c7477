"""The composition root: one database configuration and one set of services
per process (the AggregateManager with its driver, compute host
registration, crash recovery), shared by every pipeline that paste
builds."""

import os
import threading

from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import host_maintenance
from nova_aggregates.aggregates import host_matching
from nova_aggregates.aggregates import manager as aggregate_manager
from nova_aggregates.aggregates import placement_mirror
from nova_aggregates.aggregates import recovery
from nova_aggregates.aggregates import rolling_maintenance
from nova_aggregates.aggregates import task_runner
from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates import coordination
from nova_aggregates.db import api as db_api
from nova_aggregates import exception
from nova_aggregates import notifications


class Services:
    def __init__(self, conf):
        self.conf = conf
        self.notifier = notifications.Notifier(conf)
        self.aggregates = aggregate_manager.AggregateManager(
            conf, inventory=compute_hosts.inventory(conf),
            notifier=self.notifier)
        self.compute_hosts = compute_hosts.ComputeHosts(conf)
        self.host_maintenance = host_maintenance.HostMaintenance(
            conf, self.aggregates.driver, self.aggregates.pools,
            notifier=self.notifier)
        self.host_matching = host_matching.HostMatching(
            conf, self.aggregates.driver)
        self.recovery = recovery.Recovery(self.aggregates)
        self.rolling_maintenance = rolling_maintenance.RollingMaintenance(
            conf, self.notifier)
        self._runner = None
        self._retrier = None

    def task_runner(self):
        """This process's rolling maintenance task runner (not started)."""
        if self._runner is None:
            self._runner = task_runner.TaskRunner(self.conf, self,
                                                  self.notifier)
        return self._runner

    def placement_retrier(self):
        """This process's retrier of Placement mirror steps (not started),
        or None when mirroring is off."""
        if self._retrier is None and self.aggregates.placement.enabled:
            self._retrier = placement_mirror.Retrier(
                self.conf, self.aggregates.placement,
                context.get_admin_context)
        return self._retrier

    def cleanup(self):
        if self._runner is not None:
            self._runner.stop(timeout=5)
        if self._retrier is not None:
            self._retrier.stop(timeout=5)
        self.notifier.stop()
        self.aggregates.driver.cleanup()

    def ping_database(self):
        """Raise unless the database answers a trivial query (the health
        check's database backend)."""
        db_api.ping(context.get_admin_context())


_lock = threading.Lock()
_services = None


def load_config(config_files, source='config_file'):
    """Our configuration object, parsed from ``config_files`` unless this
    process already parsed it (the API command and the WSGI module do; in
    another service's process the ``extensions`` filter asks for it).

    ``source`` names where the files were given, for the errors: no file,
    a file that does not exist, or other files than those this process
    already read (one process has one nova-aggregates configuration).
    """
    conf = na_conf.CONF
    wanted = [os.path.abspath(path) for path in config_files]
    if getattr(conf, '_namespace', None) is not None:
        loaded = [os.path.abspath(path) for path in conf.config_file or ()]
        if wanted and wanted != loaded:
            raise exception.ConfigurationError(reason=(
                '%s names %s, but this process already loaded %s' % (
                    source, ', '.join(wanted),
                    ', '.join(loaded) or 'no configuration file')))
        return conf
    if not wanted:
        raise exception.ConfigurationError(reason=(
            'no configuration file given: set the paste option config_file '
            'of the extensions filter, or the NOVA_AGGREGATES_CONFIG_FILES '
            'environment variable (comma-separated paths)'))
    missing = [path for path in wanted if not os.path.isfile(path)]
    if missing:
        raise exception.ConfigurationError(reason=(
            'configuration file %s (from %s) does not exist or is not a '
            'file' % (', '.join(missing), source)))
    argv = []
    for path in wanted:
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
    coordination.reset()
