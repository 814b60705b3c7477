"""``GET /healthcheck`` for load balancers: oslo.middleware's Healthcheck.

No authentication.  ``GET`` answers 200 (``HEAD`` 204) while every backend
of ``[healthcheck] backends`` reports the service available, else 503 with
the reasons in the body (``Accept`` picks text, JSON or HTML; details only
with ``[healthcheck] detailed``).  Our defaults:

- ``disable_by_file`` (oslo.middleware): 503 ``DISABLED BY FILE`` while
  the file ``[healthcheck] disable_by_file_path`` exists, so an operator
  can drain a node (default ``var/healthcheck_disable``, relative to the
  working directory like the default database);
- ``database`` (``DatabaseHealthcheck`` below, an ``oslo.middleware
  .healthcheck`` entry point of this package): ``SELECT 1`` through the
  service layer; 503 ``DATABASE UNAVAILABLE`` when it fails, ``DATABASE
  TIMEOUT`` when no answer came within ``DatabaseHealthcheck.timeout``.

Other methods get a 405, other paths below ``/healthcheck`` a 404.
"""

import logging
import threading
import time

from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import opts as healthcheck_opts
from oslo_middleware.healthcheck import pluginbase
import stevedore

from nova_aggregates.api import faults
from nova_aggregates.api import proxy
from nova_aggregates import service

LOG = logging.getLogger(__name__)

PLUGIN_NAMESPACE = healthcheck.Healthcheck.NAMESPACE


_OPTS = (healthcheck_opts.HEALTHCHECK_OPTS +
         healthcheck_opts.DISABLE_BY_FILE_OPTS +
         healthcheck_opts.DISABLE_BY_FILES_OPTS +
         healthcheck_opts.ENABLE_BY_FILES_OPTS)

_METHODS = ('GET', 'HEAD')


class _Probe:
    """One ``SELECT 1`` running in its own thread."""

    def __init__(self):
        self.done = threading.Event()
        self.error = None
        self.seconds = None


class DatabaseHealthcheck(pluginbase.HealthcheckBaseExtension):
    """Available while the service's database answers ``SELECT 1``.

    The query runs in a thread of its own and the check waits at most
    ``timeout`` seconds for it, whatever hangs (a connect to a host that
    drops packets, a server that stopped answering, a full pool): the
    load balancer gets a 503 with a reason instead of a timeout of its
    own.  At most one query is in flight per process: a check that comes
    while one runs waits for that one (within its own deadline) rather
    than starting another, so a database that hangs costs one blocked
    thread, not one per probe.
    """

    #: Seconds a check waits for the database.
    timeout = 2.0

    def __init__(self, oslo_conf, conf):
        super().__init__(oslo_conf, conf)
        self._lock = threading.Lock()
        self._probe = None
        self._available = True

    def healthcheck(self, server_port):
        probe = self._current_probe()
        if not probe.done.wait(self.timeout):
            return self._result(
                False, 'DATABASE TIMEOUT',
                'No answer to SELECT 1 within %.1f s.' % self.timeout)
        if probe.error is not None:
            return self._result(False, 'DATABASE UNAVAILABLE', '%s: %s' % (
                type(probe.error).__name__, probe.error), probe.error)
        return self._result(True, 'OK', 'SELECT 1 answered in %.1f ms.' % (
            probe.seconds * 1000))

    def _current_probe(self):
        with self._lock:
            if self._probe is None:
                self._probe = _Probe()
                threading.Thread(target=self._run, args=(self._probe,),
                                 name='healthcheck-database',
                                 daemon=True).start()
            return self._probe

    def _run(self, probe):
        started = time.monotonic()
        # Whatever ends this thread, the probe is done and not healthy
        # unless the query returned.
        error = RuntimeError('The health check query did not finish.')
        try:
            service.get_services(self.oslo_conf).ping_database()
            error = None
        except Exception as exc:  # noqa: B902 - any failure is a 503
            error = exc
        finally:
            probe.error = error
            probe.seconds = time.monotonic() - started
            with self._lock:
                self._probe = None
            probe.done.set()

    def _result(self, available, reason, details, error=None):
        with self._lock:
            changed, self._available = available != self._available, \
                available
        if changed and available:
            LOG.info('Health check: the database answers again.')
        elif changed:
            LOG.warning('Health check: %s (%s)', reason, details,
                        exc_info=error)
        return pluginbase.HealthcheckResult(available=available,
                                            reason=reason, details=details)


def _check_backends(names):
    """Fail at start-up, not with a check that silently never runs, when a
    backend is not installed: stevedore, which Healthcheck loads them with,
    skips names it cannot find (e.g. a virtualenv whose entry points, or
    stevedore's cache of them in ~/.cache/python-entrypoints, predate the
    ``database`` backend)."""
    def _missing(missing):
        raise ValueError(
            'Health check backend(s) %s of [healthcheck] backends not '
            'installed (no %s entry point).  If they are ours, reinstall '
            'nova-aggregates and remove stevedore\'s stale cache '
            '(~/.cache/python-entrypoints).' % (
                ', '.join(sorted(missing)), PLUGIN_NAMESPACE))

    def _failed(manager, entry_point, exc):
        raise ValueError('Health check backend %r cannot be loaded: %s' % (
            entry_point.name, exc)) from exc

    manager = stevedore.NamedExtensionManager(
        PLUGIN_NAMESPACE, names, invoke_on_load=False,
        on_missing_entrypoints_callback=_missing,
        on_load_failure_callback=_failed)
    loaded = manager.names()
    for name in set(names):
        if loaded.count(name) > 1:
            raise ValueError('Health check backend %r is ambiguous: %d %s '
                             'entry points' % (name, loaded.count(name),
                                               PLUGIN_NAMESPACE))


def register_opts(conf):
    """oslo.middleware's ``[healthcheck]`` options (of Healthcheck and of
    its bundled backends), with our defaults, on ``conf``."""
    proxy.register_lib_opts(conf, 'healthcheck', _OPTS,
                            proxy.LIB_DEFAULTS['healthcheck'])


def _not_found(environ, start_response):
    return faults.fault_response(404, 'Unknown URL.')(environ, start_response)


def app_factory(global_conf, **local_conf):
    """Paste app factory: options in ``[app:healthcheck]`` override the
    ``[healthcheck]`` group of the configuration file, as with
    oslo.middleware's own factory."""
    conf = proxy.configuration()
    register_opts(conf)
    proxy.apply_paste_options(conf, 'healthcheck', _OPTS, 'app:healthcheck',
                              local_conf)
    _check_backends(conf.healthcheck.backends)
    # The application behind it answers the requests Healthcheck ignores
    # ([healthcheck] allowed_source_ranges, ignore_proxied_requests).
    checker = healthcheck.Healthcheck(_not_found, conf)

    def _app(environ, start_response):
        if environ.get('PATH_INFO', '') not in ('', '/'):
            return _not_found(environ, start_response)
        if environ['REQUEST_METHOD'] not in _METHODS:
            response = faults.fault_response(
                405, 'Method %s is not allowed here.' %
                environ['REQUEST_METHOD'])
            response.headers['Allow'] = ', '.join(_METHODS)
            return response(environ, start_response)
        return checker(environ, start_response)
    return _app
