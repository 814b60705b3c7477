"""A real ``nova-aggregates-api`` behind a real TLS-terminating nginx.

nginx (``tests/functional/deployment/nginx.py``) listens on
https://127.0.0.1:<port> with a throw-away self-signed certificate and
proxies to the server's plain-HTTP port, sending ``X-Forwarded-Proto``,
``X-Forwarded-Host`` and ``X-Forwarded-For`` and leaving ``Host`` at the
server's own address.  With ``[oslo_middleware]
enable_proxy_headers_parsing = true`` every URL the service writes must
name the proxy; without it, nothing a client sends may change them.
``/healthcheck`` answers through the proxy, drains with its disable file
and reports a database that went away; CORS answers preflights for the
allowed origin only.
"""

import json
import os
import signal
import time

import fixtures

from tests.functional import backends
from tests.functional.backends import servers as backend_servers
from tests.functional.clients import server as api_server
from tests.functional.deployment import nginx
from tests.support import shared

TOKEN = {'X-Auth-Token': 'admin:admin'}
JSON = {'Content-Type': 'application/json'}
DASHBOARD = 'https://dashboard.example.org'
#: The one link of the version documents that is not ours.
DOCS_LINK = 'https://docs.openstack.org/'


def hrefs(document):
    """Every ``href`` anywhere in a decoded JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            if key == 'href':
                yield value
            else:
                yield from hrefs(value)
    elif isinstance(document, list):
        for item in document:
            yield from hrefs(item)


class ClassFixturesTestCase(shared.ClassFixturesTestCase):
    """Servers shared by the tests of a class (they start in seconds, the
    tests take milliseconds); ``set_up_class`` starts them with ``start``
    or ``use_class_fixture``, which stops them after the last test."""

    @classmethod
    def check_available(cls):
        nginx.require()

    @classmethod
    def start(cls, sections=None):
        """An API server (fake driver) and nginx in front of it."""
        server = cls.use_class_fixture(api_server.APIServerFixture(
            driver='fake', sections=sections))
        proxy = cls.use_class_fixture(nginx.NginxProxy(server.port))
        return server, proxy

    def get_json(self, response):
        self.assertEqual(200, response.status, response)
        return json.loads(response.body)

    def version_documents(self, send):
        """``{path: document}`` of every version document (``send(method,
        path, headers)`` is the proxy's or the server's request)."""
        documents = {}
        for path in ('/', '/v2.1', '/v2.1/', '/v2', '/v2/', '/v1.1',
                     '/v1.1/'):
            documents[path] = self.get_json(send('GET', path, TOKEN))
        return documents

    def assertLinksOn(self, base, documents):
        count = 0
        for path, document in documents.items():
            links = list(hrefs(document))
            self.assertNotEqual([], links, path)
            for link in links:
                if link == DOCS_LINK:
                    continue
                count += 1
                self.assertTrue(link.startswith(base + '/'),
                                '%s: link %s is not on %s' % (path, link, base))
        return count


class TestBehindTheProxy(ClassFixturesTestCase):
    """Proxy headers parsed, CORS for one origin, a drain file."""

    @classmethod
    def set_up_class(cls):
        cls.dir = cls.use_class_fixture(fixtures.TempDir()).path
        cls.drain_file = os.path.join(cls.dir, 'healthcheck_disable')
        cls.server, cls.proxy = cls.start({
            'oslo_middleware': {'enable_proxy_headers_parsing': 'true'},
            'cors': {'allowed_origin': DASHBOARD},
            'healthcheck': {'disable_by_file_path': cls.drain_file},
        })

    def test_version_documents_name_the_proxy(self):
        documents = self.version_documents(self.proxy.request)
        count = self.assertLinksOn(self.proxy.base_url, documents)
        # / lists three surfaces; each document has its self link.
        self.assertEqual(3 + 6, count)
        self.assertEqual(
            ['%s/%s/' % (self.proxy.base_url, prefix)
             for prefix in ('v1.1', 'v2', 'v2.1')],
            [v['links'][0]['href'] for v in documents['/']['versions']])
        self.assertEqual(
            self.proxy.base_url + '/v2.1/',
            documents['/v2.1']['version']['links'][0]['href'])

    def test_direct_requests_keep_the_servers_address(self):
        # Past the proxy (no X-Forwarded-* headers) the server names itself.
        documents = self.version_documents(
            lambda *args: nginx.direct_request(self.server.port, *args))
        self.assertLinksOn(self.server.base_url, documents)

    def test_client_cannot_forge_the_forwarded_headers_of_the_proxy(self):
        # nginx replaces what the client sent with what it saw.
        response = self.proxy.request('GET', '/', {
            'X-Forwarded-Host': 'evil.example.org',
            'X-Forwarded-Proto': 'http'})
        self.assertLinksOn(self.proxy.base_url, {'/': self.get_json(response)})

    def test_no_location_header_names_another_address(self):
        """Whatever sets Location (today no answer of the API does) names
        the proxy."""
        responses = []

        def send(method, path, body=None, headers=None):
            all_headers = dict(TOKEN, **(headers or {}))
            if body is not None:
                body = json.dumps(body).encode()
                all_headers.update(JSON)
            response = self.proxy.request(method, path, all_headers, body)
            responses.append((method, path, response))
            return response

        created = send('POST', '/v2.1/os-aggregates',
                       {'aggregate': {'name': 'behind-proxy',
                                      'availability_zone': 'az1'}})
        self.assertEqual(200, created.status, created)
        agg = json.loads(created.body)['aggregate']['id']
        url = '/v2.1/os-aggregates/%d' % agg
        send('GET', url)
        send('PUT', url, {'aggregate': {'name': 'behind-proxy-2'}})
        send('POST', url + '/action', {'add_host': {'host': 'xenhost1'}})
        send('POST', url + '/action', {'remove_host': {'host': 'xenhost1'}})
        send('GET', '/v1.1/admin/os-aggregates/%d.xml' % agg)
        send('DELETE', url)
        legacy = send('POST', '/v1.1/admin/os-aggregates',
                      {'aggregate': {'name': 'legacy-behind-proxy'}})
        self.assertEqual(200, legacy.status, legacy)
        send('DELETE', '/v1.1/admin/os-aggregates/%d' %
             json.loads(legacy.body)['aggregate']['id'])
        send('GET', '/v2.1/os-aggregates/999999')
        send('GET', '/no-such-url')
        send('POST', '/v2.1')
        send('GET', '/v2.1/os-hosts')
        send('GET', '/healthcheck')
        for method, path, response in responses:
            self.assertLess(response.status, 500, (method, path, response))
            for name, value in response.header_list:
                if name.lower() in ('location', 'content-location'):
                    self.assertTrue(
                        value.startswith(self.proxy.base_url + '/'),
                        '%s %s: %s %s' % (method, path, name, value))

    def test_healthcheck_through_the_proxy_and_draining(self):
        self.addCleanup(lambda: os.path.exists(self.drain_file) and
                        os.unlink(self.drain_file))
        response = self.proxy.request('GET', '/healthcheck')
        self.assertEqual(200, response.status, response)
        self.assertEqual(b'OK\nOK', response.body)
        self.assertEqual(204, self.proxy.request('HEAD', '/healthcheck').status)

        open(self.drain_file, 'w').close()
        response = self.proxy.request('GET', '/healthcheck')
        self.assertEqual(503, response.status, response)
        self.assertIn(b'DISABLED BY FILE', response.body)
        self.assertEqual(503, self.proxy.request('HEAD', '/healthcheck').status)
        # Draining is for the load balancer: the API still answers.
        self.assertEqual(200, self.proxy.request('GET', '/v2.1/os-aggregates',
                                                 TOKEN).status)

        os.unlink(self.drain_file)
        response = self.proxy.request('GET', '/healthcheck')
        self.assertEqual(200, response.status, response)

    def test_healthcheck_needs_no_token_and_shows_no_details(self):
        response = self.proxy.request('GET', '/healthcheck',
                                      {'Accept': 'application/json'})
        self.assertEqual(200, response.status, response)
        self.assertEqual({'detailed': False, 'reasons': ['OK', 'OK']},
                         json.loads(response.body))
        response = self.proxy.request('POST', '/healthcheck')
        self.assertEqual(405, response.status, response)

    def _preflight(self, origin, method='POST',
                   request_headers='X-Auth-Token, Content-Type'):
        return self.proxy.request('OPTIONS', '/v2.1/os-aggregates', {
            'Origin': origin, 'Access-Control-Request-Method': method,
            'Access-Control-Request-Headers': request_headers})

    def test_cors_preflight_of_the_allowed_origin(self):
        response = self._preflight(DASHBOARD)
        self.assertEqual(200, response.status, response)
        self.assertEqual(DASHBOARD,
                         response.headers['access-control-allow-origin'])
        self.assertEqual('POST',
                         response.headers['access-control-allow-methods'])
        self.assertEqual(
            ['x-auth-token', 'content-type'],
            [h.strip().lower() for h in
             response.headers['access-control-allow-headers'].split(',')])
        self.assertEqual('true',
                         response.headers['access-control-allow-credentials'])
        self.assertIn('Origin', response.headers['vary'])

    def test_cors_preflight_of_another_origin(self):
        for origin in ('https://evil.example.org', DASHBOARD + ':8443',
                       'http://dashboard.example.org'):
            response = self._preflight(origin)
            cors_headers = [name for name in response.headers
                            if name.startswith('access-control-')]
            self.assertEqual([], cors_headers, (origin, response.headers))

    def test_cors_actual_request_exposes_the_request_id(self):
        response = self.proxy.request('GET', '/v2.1/os-aggregates', dict(
            TOKEN, Origin=DASHBOARD, **{'OpenStack-API-Version':
                                        'compute 2.41'}))
        self.assertEqual(200, response.status, response)
        self.assertEqual(DASHBOARD,
                         response.headers['access-control-allow-origin'])
        exposed = [h.strip().lower() for h in
                   response.headers['access-control-expose-headers'].split(',')]
        self.assertIn('x-openstack-request-id', exposed)
        self.assertIn('openstack-api-version', exposed)
        response = self.proxy.request('GET', '/v2.1/os-aggregates', dict(
            TOKEN, Origin='https://evil.example.org'))
        self.assertEqual(200, response.status, response)
        self.assertNotIn('access-control-allow-origin', response.headers)


class TestProxyHeadersIgnored(ClassFixturesTestCase):
    """The default configuration: proxy headers and CORS disabled."""

    @classmethod
    def set_up_class(cls):
        cls.server, cls.proxy = cls.start()

    def test_behind_the_proxy_links_name_the_server(self):
        # What operators saw before: the internal http:// address.
        documents = self.version_documents(self.proxy.request)
        self.assertLinksOn(self.server.base_url, documents)

    def test_forged_forwarded_headers_change_nothing(self):
        """Neither our pipeline nor the HTTP server: gunicorn, by default,
        takes the scheme from X-Forwarded-Proto / -Ssl / -Protocol and the
        SCRIPT_NAME from a header of that name, of a client on 127.0.0.1 or
        ::1 (its forwarded_allow_ips), unless the API command sets
        forwarded_allow_ips to none."""
        forged = {'SCRIPT_NAME': '/evil',
                  'X-Forwarded-Proto': 'https',
                  'X-Forwarded-Ssl': 'on',
                  'X-Forwarded-Protocol': 'ssl',
                  'X-Forwarded-Host': 'evil.example.org',
                  'X-Forwarded-Prefix': '/evil',
                  'X-Forwarded-For': '203.0.113.9',
                  'Forwarded': 'for=203.0.113.9;proto=https;'
                               'host=evil.example.org'}
        documents = self.version_documents(
            lambda method, path, headers: nginx.direct_request(
                self.server.port, method, path, dict(headers, **forged)))
        self.assertLinksOn(self.server.base_url, documents)

    def test_no_cors_headers(self):
        response = self.proxy.request('OPTIONS', '/v2.1/os-aggregates', {
            'Origin': DASHBOARD, 'Access-Control-Request-Method': 'GET'})
        self.assertEqual([], [name for name in response.headers
                              if name.startswith('access-control-')])

    def test_healthcheck(self):
        self.assertEqual(200, self.proxy.request('GET', '/healthcheck').status)


class TestDatabaseGoesAway(ClassFixturesTestCase):
    """A server on a private PostgreSQL server that the test stops, and
    hangs (SIGSTOP): /healthcheck turns 503, and 200 again when it is
    back, without a restart of the API."""

    @classmethod
    def set_up_class(cls):
        try:
            cls.pg = cls.use_class_fixture(
                backend_servers.PrivatePostgreSQL())
        except backend_servers.PostgreSQLUnavailable as exc:
            shared.unavailable(backends.POSTGRESQL, 'cannot run a private '
                               'PostgreSQL server: %s' % exc)
        cls.server, cls.proxy = cls.start({
            'oslo_middleware': {'enable_proxy_headers_parsing': 'true'},
            'database': {'connection': cls.pg.url, 'max_retries': 2,
                         'retry_interval': 1},
        })

    def healthcheck(self):
        started = time.monotonic()
        response = self.proxy.request('GET', '/healthcheck', timeout=30)
        return response, time.monotonic() - started

    def wait_for_health(self, status, deadline=30):
        end = time.monotonic() + deadline
        while True:
            response, _ = self.healthcheck()
            if response.status == status or time.monotonic() > end:
                return response
            time.sleep(0.2)

    def test_database_stopped_then_started(self):
        self.assertEqual(200, self.healthcheck()[0].status)
        self.pg.stop()
        self.addCleanup(lambda: self.pg.running() or self.pg.start())
        response, seconds = self.healthcheck()
        self.assertEqual(503, response.status, response)
        self.assertIn(b'DATABASE UNAVAILABLE', response.body)
        self.assertLess(seconds, 5)
        self.pg.start()
        response = self.wait_for_health(200)
        self.assertEqual(200, response.status, response)

    def test_database_that_hangs(self):
        self.assertEqual(200, self.healthcheck()[0].status)
        pids = self._postgres_pids()
        self.assertNotEqual([], pids)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)

        def _resume():
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.addCleanup(_resume)
        response, seconds = self.healthcheck()
        self.assertEqual(503, response.status, response)
        self.assertIn(b'DATABASE TIMEOUT', response.body)
        # The check's own timeout (2 s), not the proxy's (60 s).
        self.assertLess(seconds, 5)
        _resume()
        response = self.wait_for_health(200)
        self.assertEqual(200, response.status, response)

    def _postgres_pids(self):
        """The postmaster (first line of its pid file) and its children."""
        with open(os.path.join(self.pg.data, 'postmaster.pid')) as f:
            postmaster = int(f.readline())
        pids = [postmaster]
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces.
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            if ppid == postmaster:
                pids.append(int(entry))
        return pids
