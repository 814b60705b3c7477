"""Fixtures shared by the test suites: configuration, a fresh SQLite
database per test, and the paste-loaded API application."""

import atexit
import json
import os
import shutil
import tempfile

import fixtures
from keystonemiddleware.auth_token import _opts as authtoken_opts
from keystonemiddleware import fixture as authtoken_fixture
from oslo_config import fixture as config_fixture
from paste import deploy
import sqlalchemy as sa
import webob

from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates import policy
from nova_aggregates import service
from tests.support.sql import StatementCounter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASTE_CONFIG = os.path.join(REPO, 'etc', 'api-paste.ini')

if not na_conf.CONF._args:
    na_conf.CONF([], project='nova-aggregates', default_config_files=[])


class ConfFixture(fixtures.Fixture):
    """The process-wide CONF, with overrides undone after the test."""

    def _setUp(self):
        self._config = self.useFixture(config_fixture.Config(na_conf.CONF))
        self.conf = na_conf.CONF
        if self.conf._args is None:
            # The cleanup of the previous test's fixture reset CONF, and an
            # uninitialized CONF cannot find files (oslo.policy needs to).
            self.conf([], project='nova-aggregates', default_config_files=[])
        self.addCleanup(policy.reset)

    def config(self, **kwargs):
        """Override options: ``config(name=value, group='api')``."""
        self._config.config(**kwargs)


_template = None


def _migrated_template():
    """One SQLite file per test process, migrated with the real alembic
    migrations; each test gets a copy (migrating costs more than most
    tests)."""
    global _template
    if _template is None:
        directory = tempfile.mkdtemp(prefix='nova-aggregates-template-')
        atexit.register(shutil.rmtree, directory, True)
        path = os.path.join(directory, 'template.sqlite')
        engine = sa.create_engine('sqlite:///' + path)
        try:
            migration.db_sync(engine)
        finally:
            engine.dispose()
        _template = path
    return _template


class DatabaseFixture(fixtures.Fixture):
    """A new SQLite file, migrated with the real alembic migrations (a copy
    of one migrated per process), or ``connection`` migrated here."""

    def __init__(self, conf_fixture, connection=None):
        super().__init__()
        self.conf_fixture = conf_fixture
        self.connection = connection

    def _setUp(self):
        migrated = False
        if self.connection is None:
            tmp = self.useFixture(fixtures.TempDir()).path
            path = os.path.join(tmp, 'test.sqlite')
            shutil.copyfile(_migrated_template(), path)
            self.connection = 'sqlite:///' + path
            migrated = True
        self.conf_fixture.config(connection=self.connection, group='database')
        service.reset()
        db_api.configure(self.conf_fixture.conf)
        self.addCleanup(service.reset)
        if not migrated:
            migration.db_sync()
        self.engine = db_api.get_engine()

    def count_statements(self):
        """A context manager counting the SQL statements run inside it,
        on the engine in use now (loading the paste app configures the
        database again: a new engine)."""
        return StatementCounter(db_api.get_engine())


class APIFixture(fixtures.Fixture):
    """Configuration + database + the application from etc/api-paste.ini."""

    def __init__(self, compute_driver='fake', overrides=None,
                 connection=None, database_fixture=None):
        """``overrides``: ``{(group, name): value}`` set before the
        application loads (``[api] auth_strategy`` picks the pipeline);
        ``connection``: a database to migrate and use instead of a new
        SQLite file; ``database_fixture``: the DatabaseFixture class that
        sets it up (e.g. one of the nova_api store)."""
        super().__init__()
        self.compute_driver = compute_driver
        self.overrides = dict(overrides or {})
        self.connection = connection
        self.database_fixture = database_fixture or DatabaseFixture

    def _setUp(self):
        self.conf_fixture = self.useFixture(ConfFixture())
        self.conf_fixture.config(compute_driver=self.compute_driver)
        for (group, name), value in self.overrides.items():
            self.conf_fixture.config(**{name: value, 'group': group})
        self.db = self.useFixture(self.database_fixture(
            self.conf_fixture, self.connection))
        #: Under ``[api] auth_strategy = keystone``: tokens for requests.
        self.keystone = None
        if self.conf_fixture.conf.api.auth_strategy == 'keystone':
            self.keystone = self.useFixture(
                KeystoneTokensFixture(self.conf_fixture))
        self.app = deploy.loadapp('config:' + PASTE_CONFIG,
                                  name='osapi_compute')
        self.context = context.get_admin_context()
        self.services = service.get_services()

    def register_host(self, name, zone=None, hypervisor_url=None):
        return self.services.compute_hosts.register(
            self.context, name, zone, hypervisor_url)

    def request(self, method, path, body=None, token='admin:admin',
                headers=None, content_type=None):
        """Send one request through the whole paste pipeline.

        ``body``: dict/list (sent as JSON), str/bytes (sent as is), or None.
        """
        all_headers = {}
        if token is not None:
            all_headers['X-Auth-Token'] = token
        all_headers.update(headers or {})
        req = webob.Request.blank(path, method=method, headers=all_headers)
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            req.body = body.encode('utf-8') if isinstance(body, str) else body
            req.content_type = content_type or 'application/json'
        elif content_type is not None:
            req.content_type = content_type
        return req.get_response(self.app)


class KeystoneTokensFixture(fixtures.Fixture):
    """Tokens for the in-process ``keystone`` pipeline.

    keystonemiddleware's own fixture answers auth_token's token lookups
    (everything else in auth_token runs: header stripping, 401s), so policy
    tests need no Keystone; tests/functional/keystone runs a real one.
    Use before the application loads.
    """

    def __init__(self, conf_fixture):
        super().__init__()
        self.conf_fixture = conf_fixture

    def _setUp(self):
        conf = self.conf_fixture.conf
        for group, opts in authtoken_opts.list_opts():
            conf.register_opts(opts, group=group)
        # Named in WWW-Authenticate only; never contacted.
        self.conf_fixture.config(
            www_authenticate_uri='http://keystone.invalid/v3',
            group='keystone_authtoken')
        self.tokens = self.useFixture(authtoken_fixture.AuthTokenFixture())

    def token(self, roles='admin', user='u1', project='p1'):
        """The id of a valid token of ``user`` in ``project`` (None: a
        token scoped to no project) with ``roles`` (comma-separated)."""
        token_id = 'token-%s' % len(self.tokens.tokens)
        self.tokens.add_token_data(
            token_id=token_id, user_id=user, project_id=project,
            role_list=[r.strip() for r in roles.split(',') if r.strip()])
        return token_id
