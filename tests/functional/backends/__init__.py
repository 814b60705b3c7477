"""Opportunistic database backends: SQLite always, PostgreSQL and
MySQL/MariaDB when a server answers with the ``openstack_citest``
credentials that oslo.db's test fixtures expect.

``BackendDatabase`` gives a test a fresh, empty, uniquely named database on
one backend (oslo.db's ``provision.Backend`` creates and drops it; SQLite
is a file in a temporary directory).  A backend that does not answer makes
the test *skip*, unless ``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names it
(``postgresql,mysql`` in CI): then the test fails, so CI cannot go green
without having exercised every backend.

``BackendTestCase`` subclasses set ``BACKEND``; a suite that must run on
every backend is a plain mixin class plus one subclass per backend, e.g.::

    class RulesTests:            # the tests, no TestCase base
        def test_x(self): ...

    class TestRulesSQLite(RulesTests, backends.SQLiteTestCase): pass
    class TestRulesPostgreSQL(RulesTests, backends.PostgreSQLTestCase): pass
    class TestRulesMySQL(RulesTests, backends.MySQLTestCase): pass
"""

import os
import random
import string

import fixtures
from oslo_db import exception as db_exc
from oslo_db.sqlalchemy import provision
import sqlalchemy as sa
import testtools

from nova_aggregates import conf as na_conf
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from tests import fixtures as na_fixtures
from tests.support import shared

SQLITE = 'sqlite'
POSTGRESQL = 'postgresql'
MYSQL = 'mysql'
ALL = (SQLITE, POSTGRESQL, MYSQL)

REQUIRE_ENV = shared.REQUIRE_ENV
required_backends = shared.required_backends


def _ident():
    return 'na_' + ''.join(random.SystemRandom().choice(
        string.ascii_lowercase) for _ in range(12))


class BackendUnavailable(Exception):
    pass


def admin_backend(backend):
    """oslo.db's provisioning Backend for ``backend``; BackendUnavailable
    if no server answers with the openstack_citest credentials."""
    try:
        return provision.Backend.backend_for_database_type(backend)
    except db_exc.BackendNotAvailable as exc:
        raise BackendUnavailable(str(exc))


def check_available(backend):
    """BackendUnavailable unless ``backend`` answers (SQLite always)."""
    if backend != SQLITE:
        admin_backend(backend)


class BackendDatabase(fixtures.Fixture):
    """A fresh, empty database on ``backend``; ``url`` connects to it.

    Dropped on cleanup (PostgreSQL: after terminating the sessions still
    attached, e.g. of a server that was killed).
    """

    def __init__(self, backend):
        super().__init__()
        if backend not in ALL:
            raise ValueError('unknown backend %s' % backend)
        self.backend = backend
        self.url = None
        self.name = None

    def _setUp(self):
        if self.backend == SQLITE:
            tmp = self.useFixture(fixtures.TempDir()).path
            self.name = os.path.join(tmp, 'test.sqlite')
            self.url = 'sqlite:///' + self.name
            return
        admin = admin_backend(self.backend)
        self.name = _ident()
        admin.create_named_database(self.name)
        self.addCleanup(admin.drop_named_database, self.name,
                        conditional=True)
        self.url = admin.provisioned_database_url(self.name).render_as_string(
            hide_password=False)

    def migrate(self):
        """Bring the database to the head revision, on an engine of its
        own that is gone afterwards (servers will use the database)."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        try:
            migration.db_sync(engine)
        finally:
            engine.dispose()

    def engine(self):
        """A private engine (not the service's) to inspect the database."""
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        self.addCleanup(engine.dispose)
        return engine


class BackendTestCase(testtools.TestCase):
    """A fresh database on ``BACKEND``; skip (or fail, when required) if
    the backend's server does not answer."""

    BACKEND = SQLITE

    def setUp(self):
        super().setUp()
        self.database = self.use_backend_database(self.BACKEND)

    def use_backend_database(self, backend):
        require(backend)
        return self.useFixture(BackendDatabase(backend))


def require(backend):
    """Skip (or fail, when required) unless ``backend`` answers."""
    try:
        check_available(backend)
    except BackendUnavailable as exc:
        shared.unavailable(backend, 'backend %s is not available (%s; start '
                           'them with tools/setup-test-databases.sh, as '
                           'root)' % (backend, exc))


class SharedDatabaseTestCase(shared.ClassFixturesTestCase):
    """One database on ``BACKEND`` for the whole class (``cls.database``),
    and whatever ``set_up_class`` starts with ``cls.use_class_fixture``:
    for tests that share costly servers.  Tests must not depend on each
    other's rows.  Skips (or, when required, fails) like BackendTestCase.
    """

    BACKEND = SQLITE

    @classmethod
    def check_available(cls):
        require(cls.BACKEND)

    @classmethod
    def prepare_class(cls):
        cls.database = cls.use_class_fixture(BackendDatabase(cls.BACKEND))


class SQLiteTestCase(BackendTestCase):
    BACKEND = SQLITE


class PostgreSQLTestCase(BackendTestCase):
    BACKEND = POSTGRESQL


class MySQLTestCase(BackendTestCase):
    BACKEND = MYSQL


def ensure_conf_parsed():
    """oslo.config's fixture un-parses CONF when a test ends (reset ->
    clear); policy file lookups then raise NotInitializedError.  Parse it
    again (no arguments, no files) before the next test configures it."""
    if na_conf.CONF._namespace is None:
        na_conf.CONF([], project='nova-aggregates', default_config_files=[])


class ServiceDatabaseMixin:
    """Point the service (CONF, db.api, the AggregateManager) at
    ``self.database`` and migrate it; ``self.db`` counts statements."""

    def use_service(self, **overrides):
        ensure_conf_parsed()
        self.conf_fixture = self.useFixture(na_fixtures.ConfFixture())
        for (group, name), value in overrides.items():
            self.conf_fixture.config(**{name: value, 'group': group})
        self.db = self.useFixture(na_fixtures.DatabaseFixture(
            self.conf_fixture, connection=self.database.url))
        return self.db

    def count_statements(self):
        """Counts the statements the service's current engine runs."""
        return na_fixtures.StatementCounter(db_api.get_engine(),
                                            queries_only=True)
