"""Hostile input, as an attacker sends it.

tests/functional/test_validation.py proves the exhaustive refusals inside
the paste pipeline (one request per malformed field, each surface).  This
file covers the hostile corpus of the issue explicitly, where that file
does not reach:

* over the wire, through the real server (gunicorn's HTTP parsing, the
  size limit on a socket, keep-alive after an early 413): a 10 MB body
  (declared and chunked), billion laughs and external entities, deeply
  nested JSON, invalid UTF-8, NUL bytes, 10,000 metadata keys, header
  injection and request smuggling attempts;
* SQL metacharacters in every string field, on SQLite, PostgreSQL and
  MySQL/MariaDB: stored and returned exactly where the field accepts them,
  refused with a 400 where it does not, and no statement ever runs them.

Every case checks its status and fault, and that the database is exactly
as it was (or, for accepted input, that nothing but the intended row
changed).
"""

import itertools
import json
import socket
import string
import time
import urllib.parse

from paste import deploy
import sqlalchemy as sa
import testtools
import webob

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates import service
from tests.functional import backends
from tests.functional.backends import servers
from tests import fixtures as na_fixtures
from tests.support.http import chunked

TEN_MB = 10 * 1024 * 1024
ADMIN = 'admin:admin'

# -- raw HTTP -------------------------------------------------------------


class RawResponse:
    def __init__(self, status, headers, body, head):
        self.status = status
        self.headers = headers
        self.body = body
        self.head = head

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return '<%s %r>' % (self.status, self.body[:200])


def _parse_responses(data):
    responses = []
    while data:
        end = data.find(b'\r\n\r\n')
        if end < 0 or not data.startswith(b'HTTP/1.'):
            break
        head = data[:end].decode('latin-1')
        lines = head.split('\r\n')
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        length = int(headers.get('content-length', ['0'])[0])
        body = data[end + 4:end + 4 + length]
        responses.append(RawResponse(status, headers, body, head))
        data = data[end + 4 + length:]
    return responses


def raw_exchange(port, request, idle=1.0, total=30):
    """Send raw bytes (stop quietly if the server closes early, as it may
    after answering a too large request), then read every response until
    the server closes the connection or is idle for ``idle`` seconds."""
    sock = socket.create_connection(('127.0.0.1', port), timeout=total)
    try:
        view = memoryview(request)
        try:
            for offset in range(0, len(view), 65536):
                sock.sendall(view[offset:offset + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(idle)
        data = b''
        deadline = time.monotonic() + total
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return _parse_responses(data)
    finally:
        sock.close()


def http_request(method, path, headers=(), body=b'', close=True):
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: 127.0.0.1']
    lines += ['%s: %s' % h for h in headers]
    if body and not any(h[0].lower() in ('content-length',
                                         'transfer-encoding')
                        for h in headers):
        lines.append('Content-Length: %d' % len(body))
    if close:
        lines.append('Connection: close')
    return '\r\n'.join(lines).encode('latin-1') + b'\r\n\r\n' + body


def ten_thousand_keys():
    keys = itertools.chain.from_iterable(
        itertools.product(string.ascii_uppercase + string.digits,
                          repeat=length) for length in (1, 2, 3))
    return {''.join(key): '' for key in itertools.islice(keys, 10000)}


JSON = ('Content-Type', 'application/json')
XML = ('Content-Type', 'application/xml')
TOKEN = ('X-Auth-Token', ADMIN)


class WireTests(testtools.TestCase):
    """The real server (two workers) on SQLite; one aggregate with a host
    and metadata is the state that must survive every case."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.database = backends.BackendDatabase(backends.SQLITE)
        cls.database.setUp()
        try:
            engine = sa.create_engine(cls.database.url)
            migration.db_sync(engine)
            engine.dispose()
            cls.server = servers.APIServer(cls.database.url, workers=2)
            cls.server.setUp()
        except BaseException:
            cls.database.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanUp()
        cls.database.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        backends.ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        conf.config(connection=self.database.url, group='database')
        service.reset()
        self.addCleanup(service.reset)
        manager = service.get_services().aggregates
        ctx = context.get_admin_context()
        # Each test starts from the same state.
        with db_api.get_engine().begin() as conn:
            for table in (db_api.aggregate_metadata, db_api.aggregate_hosts,
                          db_api.aggregates, db_api.compute_hosts):
                conn.execute(table.delete())
        hosts = service.get_services().compute_hosts
        hosts.register(ctx, 'host1', 'az1')
        hosts.register(ctx, 'host2', 'az1')
        agg = manager.create_aggregate(ctx, 'agg1', 'az1')
        self.agg_id = agg['id']
        manager.add_host(ctx, agg['id'], 'host1')
        manager.set_metadata(ctx, agg['id'], {'k': 'v'})
        self.before = self.snapshot()

    def snapshot(self):
        response = self.server.request('GET', '/v2.1/os-aggregates', headers={
            'OpenStack-API-Version': 'compute latest'})
        self.assertEqual(200, response.status, response)
        hosts = self.server.request('GET', '/v2.1/os-hosts')
        return response.json(), hosts.json()

    def assertUnchanged(self):
        self.assertEqual(self.before, self.snapshot())

    def exchange(self, request, **kwargs):
        return raw_exchange(self.server.port, request, **kwargs)

    def assertFault(self, response, status, name, message_part=''):
        self.assertEqual(status, response.status, response)
        body = response.json()
        self.assertEqual([name], list(body), body)
        self.assertEqual(status, body[name]['code'])
        self.assertIn(message_part, body[name]['message'])
        self.assertNotIn('Traceback', body[name]['message'])

    def one(self, request):
        responses = self.exchange(request)
        self.assertEqual(1, len(responses), responses)
        return responses[0]

    # -- size ---------------------------------------------------------------

    def test_ten_megabyte_body_declared(self):
        body = b'{"aggregate": {"name": "' + b'x' * TEN_MB + b'"}}'
        for path in ('/v2.1/os-aggregates', '/v1.1/admin/os-aggregates',
                     '/v2.1/os-aggregates/%d/action' % self.agg_id):
            started = time.monotonic()
            response = self.one(http_request('POST', path, (TOKEN, JSON),
                                             body))
            self.assertFault(response, 413, 'overLimit',
                             'larger than the limit of 114688 bytes')
            # Refused on the declared length, not after reading 10 MB.
            self.assertLess(time.monotonic() - started, 10)
        self.assertUnchanged()

    def test_ten_megabyte_body_chunked(self):
        body = b'{"aggregate": {"name": "' + b'x' * TEN_MB + b'"}}'
        response = self.one(http_request(
            'POST', '/v2.1/os-aggregates',
            (TOKEN, JSON, ('Transfer-Encoding', 'chunked')), chunked(body)))
        self.assertFault(response, 413, 'overLimit', 'larger than the limit')
        self.assertUnchanged()

    def test_ten_megabyte_xml_body(self):
        body = b'<aggregate name="' + b'x' * TEN_MB + b'"/>'
        response = self.one(http_request(
            'POST', '/v1.1/admin/os-aggregates', (TOKEN, XML), body))
        self.assertEqual(413, response.status)
        self.assertUnchanged()

    def test_early_413_does_not_run_the_unread_body(self):
        # The body of a refused request is never parsed as a request of
        # its own on the same connection (request smuggling).
        smuggled = http_request('DELETE', '/v2.1/os-aggregates/%d' %
                                self.agg_id, (TOKEN,))
        smuggled += http_request('POST', '/v2.1/os-aggregates', (TOKEN, JSON),
                                 b'{"aggregate": {"name": "smuggled"}}')
        body = smuggled + b' ' * (200000 - len(smuggled))
        responses = self.exchange(http_request(
            'POST', '/v2.1/os-aggregates', (TOKEN, JSON), body, close=False))
        self.assertEqual([413], [r.status for r in responses])
        self.assertUnchanged()

    # -- XML entities -------------------------------------------------------

    def test_billion_laughs_and_external_entities(self):
        laughs = '<!ENTITY l0 "lol">' + ''.join(
            '<!ENTITY l%d "%s">' % (i, ('&l%d;' % (i - 1)) * 10)
            for i in range(1, 10))
        for document in (
                '<?xml version="1.0"?><!DOCTYPE a [%s]>'
                '<aggregate name="&l9;"/>' % laughs,
                '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<aggregate name="&x;"/>',
                '<!DOCTYPE a [<!ENTITY %% p SYSTEM "http://127.0.0.1:%d/">'
                ' %%p;]><aggregate name="x"/>' % self.server.port,
                '<!DOCTYPE aggregate SYSTEM "http://127.0.0.1:%d/x.dtd">'
                '<aggregate name="x"/>' % self.server.port):
            response = self.one(http_request(
                'POST', '/v1.1/admin/os-aggregates', (TOKEN, XML),
                document.encode()))
            self.assertFault(response, 400, 'badRequest',
                             'DTDs or entities are not accepted')
            self.assertNotIn(b'root:', response.body)
        self.assertUnchanged()

    # -- malformed bodies -----------------------------------------------------

    def test_deeply_nested_json(self):
        for body in (b'[' * 50000 + b']' * 50000,
                     b'{"aggregate": {"name": ' + b'{"a": ' * 15000 + b'1' +
                     b'}' * 15000 + b'}}'):
            response = self.one(http_request('POST', '/v2.1/os-aggregates',
                                             (TOKEN, JSON), body))
            self.assertFault(response, 400, 'badRequest', 'nested too deeply')
        self.assertUnchanged()

    def test_invalid_utf8(self):
        for body in (b'{"aggregate": {"name": "\xff\xfe"}}',
                     b'{"aggregate": {"name": "\xed\xa0\x80"}}',
                     b'\xef\xbb\xbf\xc3('):
            response = self.one(http_request('POST', '/v2.1/os-aggregates',
                                             (TOKEN, JSON), body))
            self.assertFault(response, 400, 'badRequest', 'not UTF-8')
        self.assertUnchanged()

    def test_invalid_utf8_in_the_url(self):
        # A URL that is not UTF-8 is a malformed request, wherever it is.
        for path in ('/v2.1/os-aggregates/%ff%fe',
                     '/v2.1/extensions/%ff%c3%28',
                     '/v1.1/admin/os-aggregates/%c0%af',
                     '/v2.1/os-hosts?zone=%ff',
                     '/v2.1/os-services?binary=nova-compute&host=%ed%a0%80',
                     '/v1.1/admin/os-hosts?zone=%ff.json'):
            response = self.one(http_request('GET', path, (TOKEN,)))
            self.assertEqual(400, response.status, (path, response))
            self.assertFault(response, 400, 'badRequest')
        self.assertUnchanged()

    def test_nul_bytes(self):
        agg = '/v2.1/os-aggregates/%d' % self.agg_id
        for path, body in (
                ('/v2.1/os-aggregates', {'aggregate': {'name': 'a\x00b'}}),
                (agg, {'aggregate': {'availability_zone': 'a\x00'}}),
                (agg + '/action', {'add_host': {'host': 'host2\x00'}}),
                (agg + '/action', {'set_metadata': {'metadata': {
                    'k\x00': 'v'}}}),
                (agg + '/action', {'set_metadata': {'metadata': {
                    'k': 'v\x00'}}})):
            method = 'PUT' if path == agg else 'POST'
            response = self.one(http_request(method, path, (TOKEN, JSON),
                                             json.dumps(body).encode()))
            self.assertFault(response, 400, 'badRequest')
        # A raw NUL in the body is no JSON; in the URL no integer.
        response = self.one(http_request('POST', '/v2.1/os-aggregates',
                                         (TOKEN, JSON),
                                         b'{"aggregate": {"name": "a\x00"}}'))
        self.assertFault(response, 400, 'badRequest',
                         'Malformed request body')
        response = self.one(http_request('GET', agg + '%00', (TOKEN,)))
        self.assertFault(response, 400, 'badRequest', 'must be an integer')
        self.assertUnchanged()

    def test_ten_thousand_metadata_keys(self):
        body = json.dumps({'set_metadata': {
            'metadata': ten_thousand_keys()}}).encode()
        self.assertLess(len(body), 114688)
        response = self.one(http_request(
            'POST', '/v2.1/os-aggregates/%d/action' % self.agg_id,
            (TOKEN, JSON), body))
        self.assertFault(response, 400, 'badRequest',
                         'would hold 10002 metadata items; the limit is 128')
        self.assertUnchanged()

    # -- headers --------------------------------------------------------------

    def assertNoInjectedHeaders(self, response):
        for name in ('set-cookie', 'x-injected', 'location'):
            self.assertNotIn(name, response.headers, response.head)
        self.assertNotIn('x-injected', response.head.lower())

    def test_header_injection_through_the_url(self):
        cases = (
            ('/v2.1/os-aggregates%0d%0aSet-Cookie:%20a=b', 404,
             'itemNotFound'),
            ('/v2.1/os-aggregates/1%0d%0aX-Injected:%201', 400,
             'badRequest'),
            ('/v1.1/admin%0d%0aX-Injected:1/os-aggregates', 400,
             'badRequest'),
            ('/v2.1/os-aggregates?x=%0d%0aSet-Cookie:%20a=b', 200, None),
            ('/v2.1/os-hosts?zone=az1%0d%0aX-Injected:%201', 200, None),
        )
        for path, status, fault in cases:
            response = self.one(http_request('GET', path, (TOKEN,)))
            self.assertEqual(status, response.status, (path, response))
            if fault:
                self.assertFault(response, status, fault)
            self.assertNoInjectedHeaders(response)
        self.assertUnchanged()

    def test_header_injection_through_echoed_headers(self):
        # The microversion is echoed in canonical form only; request ids
        # are always the server's own.
        response = self.one(http_request('GET', '/v2.1/os-aggregates', (
            TOKEN, ('OpenStack-API-Version',
                    'compute 2.1 X-Injected: 1'))))
        self.assertFault(response, 400, 'badRequest')
        # A malformed version is echoed in no form at all.
        self.assertNotIn('openstack-api-version', response.headers)
        self.assertNoInjectedHeaders(response)
        response = self.one(http_request('GET', '/v2.1/os-aggregates', (
            TOKEN, ('X-OpenStack-Request-ID', 'req-1 X-Injected: 1'),
            ('X-Compute-Request-ID', 'Set-Cookie: a=b'))))
        self.assertEqual(200, response.status)
        for name in ('x-openstack-request-id', 'x-compute-request-id'):
            value, = response.headers[name]
            self.assertRegex(value, r'^req-[0-9a-f-]{36}$')
        self.assertNoInjectedHeaders(response)
        self.assertUnchanged()

    def test_raw_control_characters_in_headers(self):
        # CR, NUL or a bare LF inside a header line is no HTTP: gunicorn
        # refuses the request before the application sees it.
        for header in (b'X-Auth-Token: admin:admin\rX-Injected: 1',
                       b'X-Auth-Token: admin:ad\x00min',
                       b'X-Auth-Token: admin:admin\x00\r\nX-Injected: 1'):
            request = (b'DELETE /v2.1/os-aggregates/%d HTTP/1.1\r\n'
                       b'Host: 127.0.0.1\r\n%s\r\nConnection: close\r\n\r\n'
                       % (self.agg_id, header))
            response = self.one(request)
            self.assertEqual(400, response.status, response)
            self.assertNoInjectedHeaders(response)
        self.assertUnchanged()

    def test_request_smuggling_headers(self):
        body = b'{"aggregate": {"name": "smuggled"}}'
        for headers in (
                # Content-Length and Transfer-Encoding together.
                (TOKEN, JSON, ('Content-Length', str(len(body))),
                 ('Transfer-Encoding', 'chunked')),
                # Two Content-Lengths.
                (TOKEN, JSON, ('Content-Length', str(len(body))),
                 ('Content-Length', '0')),
                # Obfuscated Transfer-Encodings.
                (TOKEN, JSON, ('Transfer-Encoding', 'chunked, identity')),
                (TOKEN, JSON, ('Transfer-Encoding', 'xchunked')),
                (TOKEN, JSON, ('Content-Length', '-1'))):
            response = self.one(http_request('POST', '/v2.1/os-aggregates',
                                             headers, body))
            # An unknown transfer coding is a 501 (RFC 9112, 6.1).
            self.assertIn(response.status, (400, 501), (headers, response))
        # A chunk size that is no number.
        response = self.one(http_request(
            'POST', '/v2.1/os-aggregates',
            (TOKEN, JSON, ('Transfer-Encoding', 'chunked')),
            b'zz\r\n' + body + b'\r\n0\r\n\r\n'))
        self.assertEqual(400, response.status, response)
        # A chunk size that lies: the server waits for the rest, runs
        # nothing, and the next request on the connection is never read.
        responses = self.exchange(http_request(
            'POST', '/v2.1/os-aggregates',
            (TOKEN, JSON, ('Transfer-Encoding', 'chunked')),
            b'ffff\r\n' + body + b'\r\n0\r\n\r\n' + http_request(
                'DELETE', '/v2.1/os-aggregates/%d' % self.agg_id, (TOKEN,)),
            close=False))
        self.assertEqual([], responses)
        self.assertUnchanged()

    def test_oversized_and_countless_headers(self):
        response = self.one(http_request('GET', '/v2.1/os-aggregates', (
            TOKEN, ('X-Big', 'x' * 70000))))
        self.assertIn(response.status, (400, 431), response)
        response = self.one(http_request('GET', '/v2.1/os-aggregates', [
            TOKEN] + [('X-H%d' % i, 'v') for i in range(500)]))
        self.assertIn(response.status, (400, 431), response)
        # The server serves on.
        self.assertUnchanged()


# -- SQL metacharacters on every backend ------------------------------------

SQL_STRINGS = (
    "'", "''", '"', '`', '\\', "\\'", '%', '_', 'a_c', 'a%c', '%_%',
    "' OR '1'='1", '" OR ""="', "1; DROP TABLE aggregates; --",
    "'); DELETE FROM aggregate_hosts; --", "admin'--", "x' /*", '*/',
    "x' UNION SELECT name, name FROM compute_hosts --",
    "'||pg_sleep(5)||'", "1' AND SLEEP(5)#", "'; COMMIT; DROP DATABASE x; --",
    '$1', '%s', '%(name)s', ':name', '?', '#', "E'\\x27'", 'CHAR(39)',
    "\\'; TRUNCATE aggregate_metadata; --", '0x27', "N'x'", '[x]',
    "x'\"`\\%_;--/**/",
)
# What a metadata key may hold ([A-Za-z0-9-_:. ]) that SQL reads as syntax.
SQL_KEYS = ('a -- b', '1 OR 1', 'x.y:z', '_', '__', '. .', 'a:b:c', '-1',
            'select', 'DROP TABLE x')
# Hosts allow [A-Za-z0-9._-] only: everything with a quote, space or
# semicolon is refused.
SQL_HOSTS = ("host1'--", 'host1; DROP TABLE compute_hosts', "' OR '1'='1",
             'host1 OR 1=1', 'host%', 'host1"', 'host1\\')
# Ids are integers.
SQL_IDS = ("1%20OR%201=1", "1;DROP%20TABLE%20aggregates", "1'", '1%27--',
           '(SELECT%201)', '1--')


class SQLMetacharacterTests(backends.ServiceDatabaseMixin):
    """Through the paste pipeline on ``BACKEND``."""

    def setUp(self):
        super().setUp()
        self.use_service()
        self.app = deploy.loadapp('config:' + na_fixtures.PASTE_CONFIG,
                                  name='osapi_compute')
        self.manager = service.get_services().aggregates
        self.hosts = service.get_services().compute_hosts
        self.ctx = context.get_admin_context()
        self.hosts.register(self.ctx, 'host1', 'az1')
        self.hosts.register(self.ctx, 'host2', 'az1')
        sentinel = self.manager.create_aggregate(self.ctx, 'sentinel', 'az1')
        self.manager.add_host(self.ctx, sentinel['id'], 'host1')
        self.manager.set_metadata(self.ctx, sentinel['id'], {'k': 'v'})
        self.sentinel = sentinel['id']
        self.engine = self.database.engine()

    def call(self, method, path, body=None, expected=200, token=ADMIN):
        req = webob.Request.blank(path, method=method,
                                  headers={'X-Auth-Token': token})
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        started = time.monotonic()
        response = req.get_response(self.app)
        # No sleep() or pg_sleep() ever ran.
        self.assertLess(time.monotonic() - started, 3, path)
        self.assertEqual(expected, response.status_int,
                         '%s %s %r -> %s' % (method, path, body,
                                             response.body[:300]))
        return json.loads(response.body) if response.body else None

    def table_rows(self):
        rows = {}
        with self.engine.connect() as conn:
            for table in (db_api.aggregates, db_api.aggregate_hosts,
                          db_api.aggregate_metadata, db_api.compute_hosts):
                rows[table.name] = sorted(
                    (tuple(str(v) for v in row) for row in
                     conn.execute(sa.select(table))))
        return rows

    def sentinel_state(self):
        agg = self.manager.get_aggregate(self.ctx, self.sentinel)
        return agg['name'], agg['hosts'], agg['metadata'], agg['updated_at']

    def test_names_and_zones(self):
        sentinel = self.sentinel_state()
        created = {}
        for text in SQL_STRINGS:
            zone = text if ':' not in text else text.replace(':', '')
            body = self.call('POST', '/v2.1/os-aggregates', {
                'aggregate': {'name': text, 'availability_zone': zone}})
            agg = body['aggregate']
            self.assertEqual((text, zone), (agg['name'],
                                            agg['availability_zone']))
            created[agg['id']] = (text, zone)
            # The same name again is the same name.
            self.call('POST', '/v2.1/os-aggregates',
                      {'aggregate': {'name': text}}, expected=409)
        listed = self.call('GET', '/v2.1/os-aggregates')['aggregates']
        self.assertEqual(created, {a['id']: (a['name'],
                                             a['availability_zone'])
                                   for a in listed if a['id'] in created})
        self.assertEqual(len(SQL_STRINGS) + 1, len(listed))
        # Renames and legacy reads.
        for agg_id, (text, zone) in created.items():
            body = self.call('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                             {'aggregate': {'name': text + '2'}})
            self.assertEqual(text + '2', body['aggregate']['name'])
            legacy = self.call('GET', '/v1.1/admin/os-aggregates/%d' % agg_id)
            self.assertEqual(zone, legacy['aggregate']['availability_zone'])
        self.assertEqual(sentinel, self.sentinel_state())
        with self.engine.connect() as conn:
            names = set(conn.execute(sa.select(
                db_api.aggregates.c.name)).scalars())
        self.assertEqual({t + '2' for t in SQL_STRINGS} | {'sentinel'},
                         names)

    def test_metadata_keys_and_values(self):
        sentinel = self.sentinel_state()
        agg_id = self.call('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'meta'}})['aggregate']['id']
        path = '/v2.1/os-aggregates/%d/action' % agg_id
        values = {'v%d' % i: text for i, text in enumerate(SQL_STRINGS)}
        keys = {key: key for key in SQL_KEYS}
        got = self.call('POST', path, {'set_metadata': {
            'metadata': dict(values, **keys)}})['aggregate']['metadata']
        self.assertEqual(dict(values, **keys), got)
        # Removing one key with SQL in it removes that key only.
        got = self.call('POST', path, {'set_metadata': {
            'metadata': {'a -- b': None, '_': None}}})['aggregate'][
            'metadata']
        self.assertNotIn('a -- b', got)
        self.assertNotIn('_', got)
        self.assertIn('__', got)
        self.assertEqual(len(values) + len(keys) - 2, len(got))
        # Keys outside the key alphabet: refused, nothing changed.
        before = self.table_rows()
        for key in ("k'", 'k;', 'k%', 'k"', "' OR '1'='1", 'k\\', 'k/*'):
            self.call('POST', path, {'set_metadata': {'metadata': {
                key: 'v'}}}, expected=400)
        self.assertEqual(before, self.table_rows())
        self.assertEqual(sentinel, self.sentinel_state())

    def test_hosts_ids_and_queries(self):
        before = self.table_rows()
        path = '/v2.1/os-aggregates/%d/action' % self.sentinel
        for host in SQL_HOSTS:
            for action in ('add_host', 'remove_host'):
                self.call('POST', path, {action: {'host': host}},
                          expected=400)
        for agg_id in SQL_IDS:
            self.call('GET', '/v2.1/os-aggregates/' + agg_id, expected=400)
            self.call('DELETE', '/v2.1/os-aggregates/' + agg_id,
                      expected=400)
            self.call('GET', '/v1.1/admin/os-aggregates/' + agg_id,
                      expected=404)
        # Query strings go nowhere near SQL.
        for text in ("' OR '1'='1", "az1' --", '%', '_'):
            quoted = urllib.parse.quote(text)
            hosts = self.call('GET', '/v2.1/os-hosts?zone=' + quoted)
            self.assertEqual([], hosts['hosts'])
            services = self.call(
                'GET', '/v2.1/os-services?binary=nova-compute&host=' + quoted)
            self.assertEqual([], services['services'])
        # A project id with SQL in it is just another project.
        self.call('GET', "/v2.1/p'--/os-aggregates", token="admin:p'--")
        self.call('GET', "/v2.1/admin/os-aggregates",
                  token="admin:x' OR '1'='1", expected=400)
        self.assertEqual(before, self.table_rows())

    def test_operator_registered_host_names(self):
        # Hosts registered by the operator (nova-aggregates-manage) are not
        # held to the API's alphabet; SQL in them is still just text.
        for text in SQL_STRINGS[:12]:
            self.hosts.register(self.ctx, 'h' + text, 'z' + text)
        hosts = self.call('GET', '/v2.1/os-hosts')['hosts']
        self.assertEqual(sorted(['host1', 'host2'] + [
            'h' + t for t in SQL_STRINGS[:12]]),
            sorted(h['host_name'] for h in hosts))
        for text in SQL_STRINGS[:12]:
            self.assertEqual('z' + text, [
                h['zone'] for h in hosts if h['host_name'] == 'h' + text][0])
            self.hosts.unregister(self.ctx, 'h' + text)
        self.assertEqual(2, len(self.call('GET', '/v2.1/os-hosts')['hosts']))


class TestSQLMetacharactersSQLite(SQLMetacharacterTests,
                                  backends.SQLiteTestCase):
    pass


class TestSQLMetacharactersPostgreSQL(SQLMetacharacterTests,
                                      backends.PostgreSQLTestCase):
    pass


class TestSQLMetacharactersMySQL(SQLMetacharacterTests,
                                 backends.MySQLTestCase):
    pass
