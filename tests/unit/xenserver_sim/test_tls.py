"""HTTPS endpoints with a generated self-signed certificate."""

import ssl
import xmlrpc.client

from tests.unit.xenserver_sim import base


class TestTLS(base.SimulatorTestCase):
    FLEET_KWARGS = {'hosts': 2, 'tls': True}

    def verified_session(self, name):
        context = ssl.create_default_context(cafile=self.fleet.ca_file)
        transport = xmlrpc.client.SafeTransport(context=context)
        return self.session(name, transport=transport)

    def test_urls_are_https(self):
        for host in self.fleet.hosts:
            self.assertTrue(host.url.startswith('https://127.0.0.1'), host.url)
        with open(self.fleet.ca_file) as f:
            self.assertIn('BEGIN CERTIFICATE', f.read())

    def test_verification_against_ca_file(self):
        session = self.verified_session('xenhost1')
        self.assertEqual(1, len(session.xenapi.pool.get_all()))
        # The one certificate names every host address, so joins between hosts
        # work too.
        joiner = self.verified_session('xenhost2')
        joiner.xenapi.pool.join('127.0.0.11', base.USER, base.PASSWORD)
        self.assertEqual(2, len(session.xenapi.host.get_all()))

    def test_default_verification_fails(self):
        session = self.session('xenhost1', login=False)
        self.assertRaises(
            ssl.SSLCertVerificationError,
            session.login_with_password,
            base.USER,
            base.PASSWORD,
        )
        # A failed handshake does not hurt the endpoint.
        self.verified_session('xenhost1')

    def test_ignore_ssl(self):
        session = self.session('xenhost1', ignore_ssl=True)
        self.assertEqual(1, len(session.xenapi.host.get_all()))

    def test_plain_http_client_is_rejected(self):
        url = self.fleet.host('xenhost1').url.replace('https://', 'http://')
        session = self.session('xenhost1', login=False, url=url)
        self.assertRaises(
            OSError, session.login_with_password, base.USER, base.PASSWORD
        )
