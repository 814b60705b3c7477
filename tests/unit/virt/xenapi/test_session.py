"""SessionManager against the XenServer simulator, through the real SDK."""

import socket
import tempfile
import threading
import time

import fixtures
from oslo_config import cfg
import testtools

from nova_aggregates import conf as na_conf
from nova_aggregates import exception
from nova_aggregates.virt.xenapi import session as xsession
from nova_aggregates.xenserver_sim import Fleet

PASSWORD = 'secret'


def make_conf(**xenapi):
    """A private ConfigOpts with small timeouts suited to the simulator.

    The values come from a config file, not set_override: overrides are
    stored in the OptGroup, which every ConfigOpts registering the shared
    ``xenapi_group`` object shares (oslo.config copies groups shallowly),
    so they would leak into other tests and into the global CONF.
    """
    conf = cfg.ConfigOpts()
    na_conf.register_opts(conf)
    values = dict(connection_username='root', connection_password=PASSWORD,
                  connect_timeout=2.0, call_timeout=2.0, join_timeout=2.0,
                  poll_interval=0.01)
    values.update(xenapi)
    lines = ['[xenapi]'] + ['%s = %s' % item for item in values.items()
                            if item[1] is not None]
    with tempfile.NamedTemporaryFile('w', suffix='.conf') as conf_file:
        conf_file.write('\n'.join(lines) + '\n')
        conf_file.flush()
        conf(['--config-file', conf_file.name], default_config_files=[])
    return conf


class FleetFixture(fixtures.Fixture):
    """A running simulator fleet on 127.0.0.x, stopped on cleanup."""

    def __init__(self, hosts=3, tls=False):
        super().__init__()
        self.hosts = hosts
        self.tls = tls

    def _setUp(self):
        self.fleet = Fleet(hosts=self.hosts, username='root',
                           password=PASSWORD, tls=self.tls,
                           bind_address='127.0.0.1', port=0,
                           join_delay=0.05, eject_delay=0.05,
                           distinct_addresses=True)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)


class FleetTestCase(testtools.TestCase):
    """Base: a fleet of ``HOSTS`` simulated hosts and a config for it."""

    HOSTS = 3
    TLS = False

    def setUp(self):
        super().setUp()
        self.logger = self.useFixture(fixtures.FakeLogger())
        self.fleet = self.useFixture(FleetFixture(self.HOSTS, self.TLS)).fleet
        self.conf = make_conf(**self.conf_overrides())

    def conf_overrides(self):
        return {'ca_file': self.fleet.ca_file} if self.TLS else {}

    def url(self, name):
        return self.fleet.host(name).url


class SessionReuseTest(FleetTestCase):

    def setUp(self):
        super().setUp()
        self.sessions = xsession.SessionManager(self.conf)
        self.addCleanup(self.sessions.close_all)

    def test_one_login_per_url_reused_across_calls(self):
        url = self.url('xenhost1')
        for _ in range(3):
            self.assertEqual(1, len(self.sessions.call(url, 'xenhost1',
                                                       'pool.get_all')))
        self.assertEqual(1, self.fleet.login_count('xenhost1'))
        self.sessions.call(self.url('xenhost2'), 'xenhost2', 'pool.get_all')
        self.assertEqual(1, self.fleet.login_count('xenhost2'))
        self.assertEqual(2, self.fleet.login_count())

    def test_this_session_placeholder(self):
        url = self.url('xenhost1')
        host_ref = self.sessions.call(url, 'xenhost1',
                                      'session.get_this_host',
                                      xsession.THIS_SESSION)
        self.assertEqual(self.fleet.host('xenhost1').uuid,
                         self.sessions.call(url, 'xenhost1', 'host.get_uuid',
                                            host_ref))

    def test_threads_share_one_session(self):
        url = self.url('xenhost1')
        errors = []

        def work():
            try:
                for _ in range(10):
                    self.sessions.call(url, 'xenhost1', 'pool.get_all')
            except Exception as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual([], errors)
        self.assertEqual(1, self.fleet.login_count('xenhost1'))

    def test_session_expiry_relogs_in_transparently(self):
        url = self.url('xenhost1')
        self.sessions.call(url, 'xenhost1', 'pool.get_all')
        self.fleet.inject('pool.get_all', action='expire_session',
                          host='xenhost1')
        self.assertEqual(1, len(self.sessions.call(url, 'xenhost1',
                                                   'pool.get_all')))
        self.assertEqual(2, self.fleet.login_count('xenhost1'))

    def test_session_expiry_on_every_call_is_unreachable(self):
        url = self.url('xenhost1')
        self.sessions.call(url, 'xenhost1', 'pool.get_all')
        self.fleet.inject('pool.get_all', action='expire_session',
                          host='xenhost1', times=10)
        exc = self.assertRaises(exception.HypervisorUnreachable,
                                self.sessions.call, url, 'xenhost1',
                                'pool.get_all')
        self.assertIn('xenhost1', str(exc))
        self.assertIn('Tried 3 times', str(exc))
        # The SDK gave up on that session: the next call starts afresh.
        self.assertFalse(self.sessions.has_session(url))

    def test_wrong_password_is_a_failure_and_not_cached(self):
        self.fleet.set_password('xenhost1', 'other')
        url = self.url('xenhost1')
        exc = self.assertRaises(xsession.XenAPIFailure, self.sessions.call,
                                url, 'xenhost1', 'pool.get_all')
        self.assertEqual('SESSION_AUTHENTICATION_FAILED', exc.code)
        self.assertEqual('session.login_with_password', exc.method)
        self.assertFalse(self.sessions.has_session(url))
        self.fleet.set_password('xenhost1', PASSWORD)
        self.sessions.call(url, 'xenhost1', 'pool.get_all')

    def test_failure_keeps_details_and_session(self):
        url = self.url('xenhost1')
        exc = self.assertRaises(xsession.XenAPIFailure, self.sessions.call,
                                url, 'xenhost1', 'host.get_by_uuid', 'nope')
        self.assertEqual('UUID_INVALID', exc.code)
        self.assertEqual(['UUID_INVALID', 'host', 'nope'], exc.details)
        self.assertTrue(self.sessions.has_session(url))

    def test_host_is_slave_drops_the_session(self):
        h1, h2 = self.fleet.host('xenhost1'), self.fleet.host('xenhost2')
        self.sessions.call(h2.url, 'xenhost2', 'pool.join', h1.address,
                           'root', PASSWORD)
        deadline = time.monotonic() + 5
        while True:
            try:
                self.sessions.call(h2.url, 'xenhost2', 'pool.get_all')
            except xsession.XenAPIFailure as exc:
                self.assertEqual('HOST_IS_SLAVE', exc.code)
                self.assertEqual(h1.address, exc.details[1])
                break
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertFalse(self.sessions.has_session(h2.url))

    def test_close_all_logs_out(self):
        url = self.url('xenhost1')
        self.sessions.call(url, 'xenhost1', 'pool.get_all')
        self.sessions.close_all()
        self.assertIn(('xenhost1', 'session.logout'), self.fleet.call_log())
        self.assertFalse(self.sessions.has_session(url))
        self.sessions.call(url, 'xenhost1', 'pool.get_all')
        self.assertEqual(2, self.fleet.login_count('xenhost1'))


class ErrorTranslationTest(FleetTestCase):

    HOSTS = 1

    def conf_overrides(self):
        return {'call_timeout': 0.3, 'connect_timeout': 0.3}

    def setUp(self):
        super().setUp()
        self.sessions = xsession.SessionManager(self.conf)
        self.addCleanup(self.sessions.close_all)
        self.url1 = self.url('xenhost1')
        # Log in first so that faults hit an ordinary call.
        self.sessions.call(self.url1, 'xenhost1', 'pool.get_all')

    def call(self):
        return self.sessions.call(self.url1, 'xenhost1', 'pool.get_all')

    def test_stopped_host_is_unreachable(self):
        self.fleet.stop_host('xenhost1')
        exc = self.assertRaises(exception.HypervisorUnreachable, self.call)
        self.assertIn('xenhost1', str(exc))
        self.fleet.start_host('xenhost1')
        self.assertEqual(1, len(self.call()))

    def test_slow_answer_is_a_timeout(self):
        self.fleet.inject('pool.get_all', delay=1.0, host='xenhost1')
        start = time.monotonic()
        exc = self.assertRaises(exception.HypervisorTimeout, self.call)
        self.assertLess(time.monotonic() - start, 0.9)
        self.assertEqual(0.3, exc.kwargs['timeout'])
        self.assertIn('xenhost1', str(exc))

    def test_http_500_is_unreachable(self):
        self.fleet.inject('pool.get_all', action='http_500', host='xenhost1')
        exc = self.assertRaises(exception.HypervisorUnreachable, self.call)
        self.assertIn('500', str(exc))
        self.assertEqual(1, len(self.call()))

    def test_malformed_answer_is_unreachable(self):
        self.fleet.inject('pool.get_all', action='malformed', host='xenhost1')
        exc = self.assertRaises(exception.HypervisorUnreachable, self.call)
        self.assertIn('bad answer', str(exc))
        self.assertEqual(1, len(self.call()))

    def test_dropped_connection_is_unreachable(self):
        # The stdlib transport retries once on a dropped keep-alive
        # connection, so drop twice.
        self.fleet.inject('pool.get_all', action='drop_connection',
                          host='xenhost1', times=2)
        self.assertRaises(exception.HypervisorUnreachable, self.call)
        self.assertEqual(1, len(self.call()))

    def test_connect_timeout(self):
        # A TCP listener that never speaks TLS: the handshake hangs.
        listener = socket.socket()
        listener.bind(('127.0.0.1', 0))
        listener.listen(5)
        self.addCleanup(listener.close)
        url = 'https://127.0.0.1:%d' % listener.getsockname()[1]
        exc = self.assertRaises(exception.HypervisorTimeout,
                                self.sessions.call, url, 'blackhole',
                                'pool.get_all')
        self.assertEqual(0.3, exc.kwargs['timeout'])

    def test_unusable_url(self):
        exc = self.assertRaises(exception.HypervisorUnreachable,
                                self.sessions.call, 'ftp://x', 'xenhostX',
                                'pool.get_all')
        self.assertIn('xenhostX', str(exc))


class TLSTest(FleetTestCase):

    HOSTS = 1
    TLS = True

    def _call(self, conf):
        sessions = xsession.SessionManager(conf)
        self.addCleanup(sessions.close_all)
        return sessions.call(self.url('xenhost1'), 'xenhost1', 'pool.get_all')

    def test_url_is_https(self):
        self.assertTrue(self.url('xenhost1').startswith('https://'))

    def test_verified_with_ca_file(self):
        self.assertEqual(1, len(self._call(self.conf)))

    def test_refused_without_ca_file(self):
        exc = self.assertRaises(exception.HypervisorUnreachable, self._call,
                                make_conf())
        self.assertIn('TLS', str(exc))
        self.assertEqual(0, self.fleet.login_count('xenhost1'))

    def test_verification_can_be_turned_off(self):
        self.assertEqual(1, len(self._call(make_conf(verify_tls=False))))
