"""What every worker process of nova-aggregates-api does, under either
server (gunicorn's hooks in ``cmd/api.py``, granian's loader in
``cmd/granian_server.py``): build the application, start and stop the
per-process services."""

import gc
import os

from paste import deploy

from nova_aggregates import service


def load_app(conf):
    """The paste application ``osapi_compute`` of ``[api]
    api_paste_config``."""
    return deploy.loadapp('config:' + os.path.abspath(
        conf.api.api_paste_config), name='osapi_compute')


def worker_started(conf):
    """In a new worker process, before its application is loaded."""
    service.reset()
    services = service.get_services(conf)
    if conf.maintenance.task_runner:
        # One rolling maintenance runner per worker process: tasks are
        # claimed through coordination locks, so any number is safe.
        services.task_runner().start()
    retrier = services.placement_retrier()
    if retrier is not None:
        # Each attempt is claimed in the database: any number is safe.
        retrier.start()


def worker_app_loaded():
    """In a worker process, once its application is loaded."""
    # What exists now lives as long as the worker.  Out of the collector's
    # sight, a full collection no longer walks it (some 150,000 objects,
    # tens of milliseconds, every few requests that allocate much: a host
    # matching at 1,000 hosts).
    gc.freeze()


def worker_exiting():
    """In a worker process that stops."""
    # Runs in progress suspend after their current step (a task left
    # mid-step is taken over once its lease expires, as after a crash).
    service.reset()
