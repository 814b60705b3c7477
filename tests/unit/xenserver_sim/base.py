"""Helpers for the simulator tests: a Fleet fixture and real XenAPI
sessions."""

import time
import xmlrpc.client

import fixtures
import testtools
import XenAPI

from nova_aggregates.xenserver_sim import Fleet

USER = 'root'
PASSWORD = 'secret'


class FleetFixture(fixtures.Fixture):
    """A started Fleet on loopback, stopped at cleanup."""

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = dict(
            {'hosts': 3, 'username': USER, 'password': PASSWORD}, **kwargs
        )

    def _setUp(self):
        self.fleet = Fleet(**self.kwargs)
        self.addCleanup(self.fleet.stop)
        self.fleet.start()


class TimeoutTransport(xmlrpc.client.Transport):
    """The SDK has no timeout knob; a transport with one is how a driver bounds
    calls."""

    def __init__(self, timeout):
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class SimulatorTestCase(testtools.TestCase):
    FLEET_KWARGS = {}

    def setUp(self):
        super().setUp()
        self.fleet = self.useFixture(FleetFixture(**self.FLEET_KWARGS)).fleet

    def session(self, name, login=True, password=PASSWORD, url=None, **kwargs):
        """A real XenAPI.Session to a simulated host (logged in unless told not
        to)."""
        session = XenAPI.Session(url or self.fleet.host(name).url, **kwargs)
        # Close the client's keep-alive connection at cleanup (runs before
        # fleet.stop).
        self.addCleanup(session('close'))
        if login:
            session.login_with_password(USER, password)
        return session

    def assertFailure(self, code, func, *args):
        """Call func(*args), expect XenAPI.Failure with ``code``; return its
        details."""
        exc = self.assertRaises(XenAPI.Failure, func, *args)
        self.assertEqual(code, exc.details[0], exc.details)
        return exc.details

    def assertJoinFails(self, code, session, master='127.0.0.11',
                        password=PASSWORD):
        """``pool.join`` of ``session``'s host to ``master`` fails with
        ``code``; the failure's details."""
        return self.assertFailure(code, session.xenapi.pool.join, master,
                                  USER, password)

    def wait_for(self, predicate, timeout=5.0, interval=0.01):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail('condition not met within %.1fs' % timeout)
            time.sleep(interval)

    def host_ref(self, session, name):
        """Ref of host ``name`` as seen through ``session`` (its pool
        master)."""
        uuid = self.fleet.host(name).uuid
        return session.xenapi.host.get_by_uuid(uuid)

    def login_fails_with(self, name, code):
        """True if a fresh password login to ``name`` fails with ``code``."""
        session = XenAPI.Session(self.fleet.host(name).url)
        try:
            session.login_with_password(USER, PASSWORD)
        except XenAPI.Failure as exc:
            return exc.details[0] == code
        finally:
            session('close')()
        return False
