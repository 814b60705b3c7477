"""nova-aggregates-api: serve the paste application.

Runs under gunicorn (threaded workers, nova_aggregates.cmd.worker):
``[api] workers`` processes with ``[api] threads`` request threads each,
listening on ``[api] bind_host`` and ``[api] bind_port``.  Slow clients are
held to ``[api] client_socket_timeout`` and ``client_body_timeout``.
SIGTERM and SIGINT stop it cleanly and promptly: idle keep-alive
connections are closed, requests in progress finish.  Pool operations are
serialized through the database, so any number of workers is safe.  Each
worker also runs a rolling maintenance task runner (``[maintenance]
task_runner``; tasks are claimed through coordination locks, so any number
of runners on any number of nodes is safe).

``[api] server = granian`` runs the same under granian instead
(nova_aggregates.cmd.granian_server), with the differences its option
lists.
"""

import logging
import sys

from gunicorn.app import base as gunicorn_base

from nova_aggregates.cmd import common
from nova_aggregates.cmd import serving
from nova_aggregates.cmd import worker as na_worker
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates import devserver
from nova_aggregates import service

LOG = logging.getLogger(__name__)


def reconcile(conf):
    """Repair pool operations that a dead process left ``changing``."""
    recovery = service.get_services(conf).recovery
    repaired = recovery.reconcile_interrupted(context.get_admin_context())
    if repaired:
        LOG.warning('Reconciled interrupted pool operations of aggregates '
                    '%s', repaired)


class _Server(gunicorn_base.BaseApplication):
    """The gunicorn server; ``load(conf)`` builds the application in each
    worker (default: the API's)."""

    def __init__(self, conf, load=None):
        self.conf = conf
        self._load = load or serving.load_app
        super().__init__()

    def load_config(self):
        api = self.conf.api
        settings = {
            'bind': '%s:%d' % (api.bind_host, api.bind_port),
            'workers': api.workers,
            'threads': api.threads,
            'worker_class': na_worker.ThreadWorker,
            'graceful_timeout': 30,
            # Pool operations wait for XenServer; do not kill them early.
            'timeout': int(self.conf.xenapi.join_timeout +
                           4 * self.conf.xenapi.call_timeout) + 30,
            'keepalive': 5,
            # Only [oslo_middleware] enable_proxy_headers_parsing may act on
            # X-Forwarded-*: gunicorn itself trusts no client's.
            'forwarded_allow_ips': '',
            'accesslog': None,
            'proc_name': 'nova-aggregates-api',
            # No control socket: several servers may run side by side.
            'control_socket_disable': True,
            'post_fork': _post_fork,
            'worker_exit': _worker_exit,
            'post_worker_init': _post_worker_init,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        # Each worker builds its own app, database pool and driver sessions.
        return self._load(self.conf)


def _post_fork(server, worker):
    serving.worker_started(server.app.conf)


def _post_worker_init(worker):
    serving.worker_app_loaded()


def _worker_exit(server, worker):
    serving.worker_exiting()


def serve(conf, argv, load=None):
    """Serve until stopped, under the server ``[api] server`` selects.

    ``argv``: the command line ``conf`` was parsed from (a worker that
    does not inherit it parses it again); ``load(conf)``: builds the
    application in each worker (default: the API's)."""
    if conf.api.server == 'granian':
        # Imported only when chosen.
        from nova_aggregates.cmd import granian_server
        granian_server.serve(conf, argv, load or serving.load_app)
    else:
        _Server(conf, load).run()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    conf = common.parse_args(argv, description=__doc__)
    # Development only (make serve): None unless configured.
    fleet = devserver.start_embedded_simulator(conf)
    reconcile(conf)
    # Nothing opened in this process may leak into the workers.
    service.reset()
    print('nova-aggregates-api listening on http://%s:%d/' % (
        conf.api.bind_host, conf.api.bind_port), flush=True)
    try:
        serve(conf, argv)
    finally:
        if fleet is not None:
            fleet.stop()
        db_api.dispose()
    return 0


if __name__ == '__main__':
    sys.exit(main())
