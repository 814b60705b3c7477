"""Fixtures for pool tests: a simulated XenServer fleet behind the API.

``PoolAPIFixture`` starts a ``Fleet`` on 127.0.0.x with tiny delays, then
the whole paste pipeline with ``compute_driver = xenapi`` and small
timeouts, and registers every simulated host as a compute host with its
XenAPI URL.  Requests go API -> AggregateManager -> xenapi driver -> real
``XenAPI`` SDK -> XML-RPC over loopback -> simulator.
"""

import contextlib
import json
import os
import signal

import fixtures

from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.xenserver_sim import Fleet
from tests import fixtures as na_fixtures
from tests.support import process

PASSWORD = 'secret'

#: Small enough for fast tests, large enough for a loaded CI machine.
XENAPI_OPTIONS = {
    'connection_username': 'root',
    'connection_password': PASSWORD,
    'connect_timeout': 2.0,
    'call_timeout': 2.0,
    'join_timeout': 2.0,
    'poll_interval': 0.01,
}


class FleetFixture(fixtures.Fixture):
    """A running simulator fleet, stopped on cleanup."""

    def __init__(self, hosts=4, join_delay=0.02, eject_delay=0.02):
        super().__init__()
        self.hosts = hosts
        self.join_delay = join_delay
        self.eject_delay = eject_delay

    def _setUp(self):
        self.fleet = Fleet(hosts=self.hosts, username='root',
                           password=PASSWORD, bind_address='127.0.0.1',
                           port=0, join_delay=self.join_delay,
                           eject_delay=self.eject_delay,
                           distinct_addresses=True)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)


def _ensure_conf_parsed():
    # A ConfFixture's cleanup (conf.reset) leaves CONF unparsed, and
    # policy's find_file then raises NotInitializedError.
    if na_conf.CONF._args is None:
        na_conf.CONF([], project='nova-aggregates', default_config_files=[])


#: The options a transport keeps from the moment it is made.
TIMEOUTS = ('connect_timeout', 'call_timeout', 'join_timeout')


def set_xenapi_options(conf_fixture, services, options):
    """Set ``[xenapi]`` ``options`` for what the driver does from now on.

    An open session's transport keeps the timeouts it was made with, so
    every session is logged out: the next call logs in under ``options``.
    Tests of small timeouts build their pools under XENAPI_OPTIONS first:
    on a loaded machine a pool built at 0.5 s per call can time out.
    """
    for name, value in options.items():
        conf_fixture.config(**{name: value, 'group': 'xenapi'})
    services.aggregates.driver.cleanup()


@contextlib.contextmanager
def patient_timeouts(conf_fixture, services, after):
    """XENAPI_OPTIONS' timeouts inside, the timeouts of ``after`` once out.

    For set-up steps of tests of small timeouts: only what a test does is
    meant to be timed, and on a loaded machine a pool built at 0.5 s per
    call can time out.
    """
    set_xenapi_options(conf_fixture, services,
                       {k: XENAPI_OPTIONS[k] for k in TIMEOUTS})
    try:
        yield
    finally:
        set_xenapi_options(conf_fixture, services,
                           {k: after[k] for k in TIMEOUTS})


def zone_of(number):
    """Hosts 1-2 in az1, 3-4 in az2, ... as in the embedded simulator."""
    return 'az%d' % ((number - 1) // 2 + 1)


class PoolAPIFixture(fixtures.Fixture):
    """Fleet + API (xenapi driver) + the fleet's hosts registered."""

    def __init__(self, hosts=4, xenapi=None, **fleet_kwargs):
        super().__init__()
        self.hosts = hosts
        self.xenapi = dict(XENAPI_OPTIONS, **(xenapi or {}))
        self.fleet_kwargs = fleet_kwargs

    def _setUp(self):
        self.fleet = self.useFixture(
            FleetFixture(self.hosts, **self.fleet_kwargs)).fleet
        # The xenapi options go in before the API loads its driver, through
        # a ConfFixture of our own (whatever APIFixture's override keyword
        # looks like); every ConfFixture resets CONF on cleanup.
        _ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        self.conf = conf
        for name, value in self.xenapi.items():
            conf.config(**{name: value, 'group': 'xenapi'})
        # Set up after the fleet: cleanups run in reverse, so the API's
        # services (and their XenAPI sessions) go before the fleet stops.
        self.api = self.useFixture(na_fixtures.APIFixture(
            compute_driver='xenapi'))
        for number, host in enumerate(self.fleet.hosts, 1):
            self.api.register_host(host.name, zone_of(number), host.url)

    def patient(self):
        """XENAPI_OPTIONS' timeouts inside, this fixture's own after."""
        return patient_timeouts(self.conf, self.api.services, self.xenapi)

    @property
    def host_names(self):
        return [h.name for h in self.fleet.hosts]

    def pool_of(self, host):
        return self.fleet.pool_of(host)

    def pool_named(self, name):
        """The simulator's pool whose name label is ``name``, or None."""
        found = [p for p in self.fleet.pools() if p['name_label'] == name]
        return found[0] if found else None

    def request(self, *args, **kwargs):
        return self.api.request(*args, **kwargs)

    def json(self, response):
        return json.loads(response.body) if response.body else None


# -- real API servers sharing one database ---------------------------------

BIN = process.BIN


class SharedDatabaseFixture(fixtures.Fixture):
    """One SQLite file for several server processes, migrated, with the
    fleet's hosts registered.  ``self.context`` reads it in-process."""

    def __init__(self, fleet):
        super().__init__()
        self.fleet = fleet

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.connection = 'sqlite:///%s' % os.path.join(self.dir, 'db.sqlite')
        _ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        self.useFixture(na_fixtures.DatabaseFixture(conf, self.connection))
        self.context = context.get_admin_context()
        for number, host in enumerate(self.fleet.hosts, 1):
            db_api.compute_host_create(self.context, host.name,
                                       zone_of(number), host.url)

    def aggregate(self, aggregate_id):
        return db_api.aggregate_get(self.context, aggregate_id)


class APIServersFixture(fixtures.Fixture):
    """``count`` real ``nova-aggregates-api`` servers (gunicorn, ``workers``
    processes each) on one database, xenapi driver; started in parallel."""

    def __init__(self, connection, count=1, workers=1, xenapi=None):
        super().__init__()
        self.connection = connection
        self.count = count
        self.workers = workers
        self.xenapi = dict(XENAPI_OPTIONS, **(xenapi or {}))

    def _setUp(self):
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.servers = [APIServer(self, i) for i in range(self.count)]
        self.addCleanup(self.stop_all)
        for server in self.servers:
            server.start()
        for server in self.servers:
            server.wait_ready()

    def stop_all(self):
        # Signal every server first, then wait: they stop in parallel.
        for server in self.servers:
            server.stop(wait=False)
        for server in self.servers:
            server.stop()

    def write_config(self, name, port):
        return process.write_config(os.path.join(self.dir, name + '.conf'), {
            'DEFAULT': {'compute_driver': 'xenapi'},
            'api': {'bind_host': '127.0.0.1', 'bind_port': port,
                    'workers': self.workers},
            'database': {'connection': self.connection},
            'xenapi': self.xenapi,
        })


class APIServer(process.ServerProcess):
    """One server process group; ``crash()`` SIGKILLs it, ``start()``
    starts it again on the same port and configuration."""

    def __init__(self, owner, number):
        name = 'api%d' % number
        port = process.free_port()
        self.config = owner.write_config(name, port)
        super().__init__(process.api_command(self.config), port,
                         os.path.join(owner.dir, name + '.log'), name)
        self.base = 'http://127.0.0.1:%d' % port

    def start(self):
        """Start the process; ``wait_ready()`` waits for it."""
        return super().start(wait=False)

    def wait_ready(self, timeout=30):
        self.wait_until_answers(timeout)

    def crash(self):
        """SIGKILL the whole server (master and workers) at once."""
        self.kill()

    def stop(self, wait=True):
        """SIGTERM (gunicorn's graceful stop); ``wait=False`` only signals."""
        super().stop(signal.SIGTERM, wait=wait)

    def request(self, method, path, body=None, timeout=30):
        """(status, decoded body) of one request as admin."""
        response = super().request(method, path, body, timeout=timeout)
        return response.status, response.json()
