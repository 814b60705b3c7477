"""The database server goes away under load and comes back.

A private PostgreSQL server (so that the tests running beside these keep
theirs) serves a real ``nova-aggregates-api`` with two workers while
client threads create and list aggregates without pause.  The server is
restarted, then crashed (immediate shutdown, crash recovery on start):
while it is down every request gets a 503 ``serviceUnavailable`` fault,
never a 500 or a hang; once it is back every request succeeds again with
no restart of the API (oslo.db reconnects); every create that got a 200
is in the database, nothing else is, and a create that got a 503 is not
(unless its COMMIT ran at the very moment the server died, which no
client can tell; the test allows that only for requests then in flight).

Deadlocks are retried: a deadlock is provoked on the shared PostgreSQL and
the request that PostgreSQL picks as the victim still succeeds.
"""

import collections
import itertools
import threading
import time

import sqlalchemy as sa
import testtools
import testtools.content

from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates import service
from tests.functional import backends
from tests.functional.backends import servers
from tests.support import shared

CLIENTS = 3
UNAVAILABLE = {'serviceUnavailable': {
    'code': 503, 'message': 'The database is unavailable; try again shortly.'}}


class Load:
    """Client threads that create (unique names) and list without pause,
    recording ``(time, kind, name, status or exception, body)``."""

    def __init__(self, server, clients=CLIENTS):
        self.server = server
        self.clients = clients
        self.stop = threading.Event()
        self.log = []
        self._names = itertools.count()
        self._lock = threading.Lock()
        self.threads = []

    def _run(self, number):
        while not self.stop.is_set():
            with self._lock:
                name = 'load-%d' % next(self._names)
            for kind, call in (
                    ('create', ('POST', '/v2.1/os-aggregates',
                                {'aggregate': {'name': name}})),
                    ('list', ('GET', '/v2.1/os-aggregates', None))):
                started = time.monotonic()
                try:
                    response = self.server.request(*call, timeout=30)
                    entry = (time.monotonic(), kind, name, response.status,
                             response.body, started)
                except Exception as exc:  # noqa: B902 - recorded
                    entry = (time.monotonic(), kind, name, exc, None,
                             started)
                with self._lock:
                    self.log.append(entry)
            time.sleep(0.005)

    def start(self):
        for number in range(self.clients):
            thread = threading.Thread(target=self._run, args=(number,),
                                      daemon=True)
            thread.start()
            self.threads.append(thread)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def between(self, start, end):
        return [e for e in self.log if start <= e[0] < end]


class TestDatabaseRestart(testtools.TestCase):

    def setUp(self):
        super().setUp()
        try:
            self.pg = self.useFixture(servers.PrivatePostgreSQL())
        except servers.PostgreSQLUnavailable as exc:
            shared.unavailable(backends.POSTGRESQL, 'cannot run a private '
                               'PostgreSQL server: %s' % exc)
        admin = sa.create_engine(self.pg.url, poolclass=sa.pool.NullPool,
                                 isolation_level='AUTOCOMMIT')
        with admin.connect() as conn:
            conn.exec_driver_sql('CREATE DATABASE nova')
        admin.dispose()
        self.url = self.pg.url.rsplit('/', 1)[0] + '/nova'
        self.engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self.addCleanup(self.engine.dispose)
        migration.db_sync(self.engine)
        self.api = self.useFixture(servers.APIServer(self.url, workers=2))
        self.addOnException(lambda exc_info: self.addDetail(
            'api-log', testtools.content.text_content(
                self.api.output()[-30000:])))

    def wait_until_served(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            response = self.api.request('GET', '/v2.1/os-aggregates')
            if response.status == 200:
                return time.monotonic()
            self.assertEqual(503, response.status, response)
            self.assertLess(time.monotonic(), deadline,
                            'the API did not recover')
            time.sleep(0.05)

    def outage(self, load, take_down):
        """Take the database down under load, then back: returns the times
        (going down, down, coming back, back)."""
        time.sleep(0.5)
        going_down = time.monotonic()
        take_down()
        down = time.monotonic()
        time.sleep(1.0)
        self.assertTrue(self.api.running())
        coming_back = time.monotonic()
        self.pg.start()
        back = time.monotonic()
        self.wait_until_served()
        time.sleep(0.7)
        return going_down, down, coming_back, back

    def check(self, load, times, end):
        going_down, down, coming_back, back = times
        statuses = collections.Counter()
        for when, kind, name, status, body, started in load.log:
            self.assertIsInstance(status, int,
                                  'transport error: %r' % (status,))
            statuses[status] += 1
            self.assertIn(status, (200, 503), body)
            if status == 503:
                self.assertEqual(UNAVAILABLE, servers.Response(
                    503, {}, body).json())
        # Sent once the database was down (one sent before may have had its
        # answer from the database and be read only now, on a busy machine).
        during = [e for e in load.between(down, coming_back) if e[5] >= down]
        self.assertTrue(during, 'no request while the database was down')
        self.assertEqual({503}, {e[3] for e in during}, [
            (e[1], e[3], 'sent %+.3f s, answered %+.3f s after down' % (
                e[5] - down, e[0] - down)) for e in during if e[3] != 503])
        before = load.between(going_down - 0.4, going_down)
        self.assertTrue(before)
        self.assertEqual({200}, {e[3] for e in before})
        # Back: once the first request succeeded, everything sent after it
        # does (one sent before may be a 503 answered only now).
        after = load.between(back, end)
        first_ok = min(e[0] for e in after if e[3] == 200)
        self.assertEqual({200}, {e[3] for e in load.between(first_ok, end)
                                 if e[5] >= first_ok})
        self.assertLess(first_ok - back, 5)
        return statuses

    def assertNothingLost(self, load, outages):
        created = {e[2] for e in load.log if e[1] == 'create' and e[3] == 200}
        refused = {e[2]: e for e in load.log
                   if e[1] == 'create' and e[3] != 200}
        with self.engine.connect() as conn:
            stored = set(conn.execute(sa.select(
                db_api.aggregates.c.name)).scalars())
        self.assertEqual(set(), created - stored, 'lost creates')
        self.assertEqual(set(), stored - created - set(refused),
                         'unknown rows')
        # A 503 means "not done", except for a COMMIT that the server
        # carried out but could not confirm because it went down at that
        # moment (no client can know; a retry gets 409).  Only a request
        # that was running when the database went down may be one.
        ambiguous = stored & set(refused)
        for name in ambiguous:
            started = refused[name][5]
            self.assertTrue(any(going_down - 0.5 <= started <= down
                                for going_down, down, _, _ in outages),
                            '503 but stored: %r' % (refused[name],))
        # Every process answers from the same database afterwards.
        listed = self.api.request('GET', '/v2.1/os-aggregates').json()
        self.assertEqual(stored, {a['name'] for a in listed['aggregates']})
        return len(created), len(refused), len(ambiguous)

    def test_restart_and_crash_under_load(self):
        load = Load(self.api)
        load.start()
        self.addCleanup(load.finish)
        restart = self.outage(load, self.pg.stop)
        crash = self.outage(load, self.pg.crash)
        load.finish()
        end = time.monotonic()
        self.check(load, restart, crash[0])
        statuses = self.check(load, crash, end)
        created, refused, ambiguous = self.assertNothingLost(
            load, (restart, crash))
        self.addDetail('load', testtools.content.text_content(
            'requests: %d, by status: %s, creates stored: %d, refused: %d '
            '(of which committed as the server died: %d)' % (
                len(load.log), dict(statuses), created, refused,
                ambiguous)))
        self.assertGreater(statuses[503], 0)
        self.assertGreater(created, 20)
        self.assertGreater(refused, 0)
        # The server logged the outage as such, not as an error.
        output = self.api.output()
        self.assertIn('Database unavailable', output)
        self.assertNotIn('Unexpected error', output)
        self.assertNotIn('Traceback', output)

    def test_starts_while_the_database_is_down(self):
        self.api.stop()
        self.pg.stop()
        # The server waits for the database at start-up
        # ([database] max_retries), and serves once it is there.
        starter = threading.Thread(target=self.api.start, daemon=True)
        starter.start()
        time.sleep(1.0)
        self.pg.start()
        starter.join(60)
        self.assertTrue(self.api.running(), self.api.output()[-3000:])
        self.wait_until_served()


class TestDeadlockRetry(backends.ServiceDatabaseMixin,
                        backends.PostgreSQLTestCase):
    """A deadlock between a request and another transaction: PostgreSQL
    aborts the request's transaction, which is retried and succeeds."""

    def setUp(self):
        super().setUp()
        self.use_service()
        self.ctx = context.get_admin_context()
        self.manager = service.get_services().aggregates
        self.engine = self.database.engine()

    def deadlocks(self):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT deadlocks FROM pg_stat_database WHERE datname = '
                'current_database()')).scalar()

    def test_deadlock_is_retried(self):
        service.get_services().compute_hosts.register(self.ctx, 'node1')
        agg_id = self.manager.create_aggregate(self.ctx, 'agg')['id']
        result = {}
        before = self.deadlocks()
        with self.engine.connect() as other:
            # This session waits longer before it looks for deadlocks, so
            # the request's session is the one to find it and be aborted.
            other.exec_driver_sql("SET deadlock_timeout = '30s'")
            other.exec_driver_sql(
                "UPDATE compute_hosts SET updated_at = updated_at "
                "WHERE name = 'node1'")
            pid = other.exec_driver_sql('SELECT pg_backend_pid()').scalar()

            def add_host():
                try:
                    result['aggregate'] = self.manager.add_host(
                        self.ctx, agg_id, 'node1')
                except Exception as exc:  # noqa: B902 - checked below
                    result['error'] = exc

            thread = threading.Thread(target=add_host, daemon=True)
            thread.start()
            # Wait until the request holds the aggregate and waits for us.
            deadline = time.monotonic() + 20
            while not other.execute(sa.text(
                    'SELECT count(*) FROM pg_locks WHERE NOT granted AND '
                    'pid <> :pid'), {'pid': pid}).scalar():
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.02)
            # Now wait for the aggregate the request holds: a cycle.
            other.exec_driver_sql(
                'UPDATE aggregates SET updated_at = updated_at WHERE id = %d'
                % agg_id)
            other.commit()
            thread.join(30)
            self.assertFalse(thread.is_alive())
        # PostgreSQL counted it.  The backend that found the deadlock is an
        # idle pooled connection of the service, which flushes statistics
        # lazily; closing it makes the backend exit and flush them.
        db_api.get_engine().dispose()
        deadline = time.monotonic() + 20
        while self.deadlocks() == before:
            self.assertLess(time.monotonic(), deadline, 'no deadlock')
            time.sleep(0.1)
        self.assertEqual(before + 1, self.deadlocks())
        self.assertNotIn('error', result)
        self.assertEqual(['node1'], result['aggregate']['hosts'])
        got = self.manager.get_aggregate(self.ctx, agg_id)
        self.assertEqual(['node1'], got['hosts'])
        self.assertEqual('active', got['operational_state'])
