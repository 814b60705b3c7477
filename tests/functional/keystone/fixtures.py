"""A real Keystone on 127.0.0.1 for tests, and the API server behind it.

``KeystoneFixture`` runs the Keystone installed in its own venv
(``.services/keystone``: ``make services``, i.e. ``tools/service-venv.sh
keystone ...``) from a temporary directory: SQLite database, fernet tokens,
``keystone-manage bootstrap`` (user ``admin`` with role ``admin`` on project
``admin``, region ``RegionOne``, the public identity endpoint), then, through
Keystone's own HTTP API with the admin token, a user ``member`` with role
``member`` on project ``member`` and the service user ``nova`` with role
``service`` on project ``service`` for auth_token's own authentication.
Keystone is served by gunicorn (recent releases ship no
``keystone-wsgi-public`` script, only ``keystone.wsgi.api:application``) in
its own process group, killed on cleanup.

``KeystoneTestCase`` starts one Keystone and one ``nova-aggregates-api``
(``auth_strategy = keystone``) per test class.  When the Keystone venv is
missing its tests skip, unless ``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names
``keystone``: then they fail.
"""

import collections
import datetime
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request

import fixtures

from tests.functional.clients import server
from tests.support import process
from tests.support import shared

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
#: Where tools/service-venv.sh builds the venvs of the services.
SERVICES = os.environ.get('SERVICES_DIR') or os.path.join(REPO, '.services')
VENV = os.path.join(SERVICES, 'keystone')
BIN = os.path.join(VENV, 'bin')
REQUIRED_NAME = 'keystone'
REGION = 'RegionOne'
START_TIMEOUT = 60
COMMAND_TIMEOUT = 120

Credentials = collections.namedtuple('Credentials',
                                     'username password project')
ADMIN = Credentials('admin', 'admin-secret', 'admin')
MEMBER = Credentials('member', 'member-secret', 'member')
SERVICE = Credentials('nova', 'nova-secret', 'service')

# One opener that never goes through a proxy: everything is on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class KeystoneError(Exception):
    pass


Response = collections.namedtuple('Response', 'status headers body')


def http(method, url, body=None, headers=None, timeout=30):
    """One HTTP request; a Response whatever the status.  ``body``: a dict
    (sent as JSON) or None; ``Response.body`` is decoded JSON when the
    answer is JSON, else bytes."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode('utf-8')
        headers.setdefault('Content-Type', 'application/json')
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=headers)
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        raw = response.read()
        status = response.status
        content_type = response.headers.get('Content-Type', '')
        if raw and content_type.startswith('application/json'):
            raw = json.loads(raw)
        return Response(status, response.headers, raw)


def venv_problem():
    """Why the Keystone venv cannot be used, or None."""
    stamp = os.path.join(VENV, '.installed')
    if not os.path.exists(stamp):
        return ('Keystone is not installed in %s (run "make services" or '
                'tools/service-venv.sh keystone ...)' % VENV)
    for command in ('keystone-manage', 'gunicorn'):
        if not os.access(os.path.join(BIN, command), os.X_OK):
            return 'the Keystone venv %s has no %s' % (VENV, command)
    return None


def _clean_env(**extra):
    """The environment of Keystone's processes: no OS_* variable (oslo.config
    reads OS_<GROUP>__<OPTION>), no gunicorn arguments, no proxy."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('OS_', 'GUNICORN_')) and key.lower() not in
           ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy')}
    env.update(extra)
    return env


class KeystoneFixture(fixtures.Fixture):
    """Keystone on 127.0.0.1:<free port>; ``auth_url`` is its /v3.

    ``token_expiration``: ``[token] expiration`` in seconds (short for the
    expired-token tests).
    """

    def __init__(self, token_expiration=3600):
        super().__init__()
        self.token_expiration = token_expiration
        self.proc = None
        self.server = None
        self._admin_token = None

    def _setUp(self):
        problem = venv_problem()
        if problem:
            raise KeystoneError(problem)
        self.base_dir = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(self._stop)
        # The port is in the catalog bootstrap writes: a start that lost
        # its free port to someone else is redone from scratch.
        for attempt in range(3):
            self.port = server.free_port()
            self.url = 'http://127.0.0.1:%d' % self.port
            self.auth_url = self.url + '/v3'
            self.dir = os.path.join(self.base_dir, str(attempt))
            os.mkdir(self.dir)
            self.log_path = os.path.join(self.dir, 'keystone.log')
            self._write_config()
            self._prepare()
            if self._start():
                break
        else:
            raise KeystoneError('Keystone did not start:\n%s' % self.output())
        self._create_identities()

    # Set-up.

    def _write_config(self):
        sections = {
            'DEFAULT': {'debug': 'false'},
            'database': {'connection': 'sqlite:///%s' % os.path.join(
                self.dir, 'keystone.sqlite')},
            'token': {'provider': 'fernet',
                      'expiration': self.token_expiration},
            'fernet_tokens': {'key_repository': os.path.join(
                self.dir, 'fernet-keys')},
            'fernet_receipts': {'key_repository': os.path.join(
                self.dir, 'fernet-keys')},
            'credential': {'key_repository': os.path.join(
                self.dir, 'credential-keys')},
            # Keystone's own cache, in the memory of its one worker: token
            # validation is about a hundred times cheaper (revocation
            # invalidates it).
            'cache': {'enabled': 'true', 'backend': 'dogpile.cache.memory'},
            # bcrypt's cheapest cost: password checks dominate otherwise.
            'identity': {'password_hash_rounds': 4},
        }
        self.config = os.path.join(self.dir, 'keystone.conf')
        with open(self.config, 'w') as f:
            for name, values in sections.items():
                f.write('[%s]\n' % name)
                for key, value in values.items():
                    f.write('%s = %s\n' % (key, value))
                f.write('\n')
        # gunicorn reads ./gunicorn.conf.py: Keystone parses the process's
        # command line as its own, which must therefore stay empty.
        with open(os.path.join(self.dir, 'gunicorn.conf.py'), 'w') as f:
            f.write('wsgi_app = %r\n'
                    'bind = %r\n'
                    'workers = 1\n'
                    'threads = 4\n'
                    'timeout = 60\n'
                    'graceful_timeout = 5\n'
                    'accesslog = "-"\n'
                    '# Several servers run side by side.\n'
                    'control_socket_disable = True\n'
                    % ('keystone.wsgi.api:application',
                       '127.0.0.1:%d' % self.port))

    def _manage_command(self, *args):
        return [os.path.join(BIN, 'keystone-manage'), '--config-file',
                self.config] + list(args)

    def _run_all(self, commands):
        """Run keystone-manage commands side by side; fail on any error."""
        log = open(os.path.join(self.dir, 'keystone-manage.log'), 'a')
        with log:
            procs = [(args, subprocess.Popen(
                self._manage_command(*args), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.dir, env=_clean_env(HOME=self.dir)))
                for args in commands]
            failed = []
            for args, proc in procs:
                try:
                    if proc.wait(COMMAND_TIMEOUT) != 0:
                        failed.append(' '.join(args))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    failed.append(' '.join(args) + ' (timed out)')
        if failed:
            with open(os.path.join(self.dir, 'keystone-manage.log')) as f:
                raise KeystoneError('keystone-manage %s failed:\n%s'
                                    % (', '.join(failed), f.read()))

    def _prepare(self):
        owner = ['--keystone-user', str(os.getuid()),
                 '--keystone-group', str(os.getgid())]
        self._run_all([['fernet_setup'] + owner,
                       ['credential_setup'] + owner,
                       ['db_sync']])
        self._run_all([[
            'bootstrap', '--bootstrap-username', ADMIN.username,
            '--bootstrap-password', ADMIN.password,
            '--bootstrap-project-name', ADMIN.project,
            '--bootstrap-role-name', 'admin',
            '--bootstrap-service-name', 'keystone',
            '--bootstrap-region-id', REGION,
            '--bootstrap-public-url', self.auth_url]])

    def _start(self):
        """Start gunicorn; True once Keystone answers, False if it died."""
        self.server = process.ServerProcess(
            [os.path.join(BIN, 'gunicorn')], self.port, self.log_path,
            'Keystone', cwd=self.dir, env=_clean_env(
                HOME=self.dir, OS_KEYSTONE_CONFIG_FILES=self.config),
            ready_path='/v3')
        try:
            self.server.start(START_TIMEOUT)
        except process.ServerExited:
            return False
        except process.ServerStartError:
            raise KeystoneError('Keystone did not answer within %ds:\n%s'
                                % (START_TIMEOUT, self.output()))
        finally:
            self.proc = self.server.proc
        return True

    def _stop(self):
        """SIGTERM to the whole group, SIGKILL what is left after 10 s."""
        if self.server is not None:
            self.server.stop(signal.SIGTERM, timeout=10, group=True)

    def _create_identities(self):
        roles = {role['name']: role['id'] for role in
                 self.admin_api('GET', '/roles')['roles']}
        self.project_ids = {ADMIN.project: self.admin_api(
            'GET', '/projects?name=%s' % ADMIN.project)['projects'][0]['id']}
        self.user_ids = {}
        for credentials, role in ((MEMBER, 'member'), (SERVICE, 'service')):
            project = self.admin_api('POST', '/projects', {'project': {
                'name': credentials.project, 'domain_id': 'default'}},
                expected=201)['project']['id']
            user = self.admin_api('POST', '/users', {'user': {
                'name': credentials.username,
                'password': credentials.password, 'domain_id': 'default',
                'default_project_id': project}}, expected=201)['user']['id']
            self.admin_api('PUT', '/projects/%s/users/%s/roles/%s' % (
                project, user, roles[role]), expected=204)
            self.project_ids[credentials.project] = project
            self.user_ids[credentials.username] = user

    # For tests.

    def output(self):
        """What Keystone logged so far (for failure messages)."""
        text = []
        for name in ('keystone-manage.log', 'keystone.log'):
            try:
                with open(os.path.join(self.dir, name)) as f:
                    text.append(f.read())
            except OSError:
                pass
        return '\n'.join(text)

    def issue_token(self, credentials):
        """A project-scoped token by password: (token, its expiry)."""
        response = http('POST', self.auth_url + '/auth/tokens', {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': credentials.username, 'domain': {'id': 'default'},
                'password': credentials.password}}},
            'scope': {'project': {'name': credentials.project,
                                  'domain': {'id': 'default'}}}}})
        if response.status != 201:
            raise KeystoneError('token for %s: %s %s' % (
                credentials.username, response.status, response.body))
        expires = datetime.datetime.fromisoformat(
            response.body['token']['expires_at'].replace('Z', '+00:00'))
        return response.headers['X-Subject-Token'], expires

    def admin_token(self):
        """The admin's token, issued again when about to expire."""
        now = datetime.datetime.now(datetime.timezone.utc)
        if self._admin_token is None or \
                self._admin_token[1] - now < datetime.timedelta(seconds=2):
            self._admin_token = self.issue_token(ADMIN)
        return self._admin_token[0]

    def admin_api(self, method, path, body=None, expected=200):
        """Keystone's /v3 API with the admin token; the decoded body."""
        response = http(method, self.auth_url + path, body,
                        {'X-Auth-Token': self.admin_token()})
        if response.status != expected:
            raise KeystoneError('%s %s: %s %s' % (
                method, path, response.status, response.body))
        return response.body

    def revoke(self, token):
        """Revoke a token (DELETE /v3/auth/tokens)."""
        response = http('DELETE', self.auth_url + '/auth/tokens', headers={
            'X-Auth-Token': self.admin_token(), 'X-Subject-Token': token})
        if response.status != 204:
            raise KeystoneError('revoke: %s %s' % (response.status,
                                                   response.body))

    def register_endpoint(self, service_type, name, url):
        """A catalog entry: ``service_type`` at ``url``, public, in
        RegionOne; the service's id."""
        service = self.admin_api('POST', '/services', {'service': {
            'type': service_type, 'name': name, 'enabled': True}},
            expected=201)['service']['id']
        self.add_endpoint(service, url)
        return service

    def add_endpoint(self, service, url, region=REGION):
        """Another public endpoint of ``service`` (in ``region``, created
        if new). ``url`` may hold Keystone's ``$(project_id)s``."""
        if region != REGION:
            self.admin_api('POST', '/regions', {'region': {'id': region}},
                           expected=201)
        self.admin_api('POST', '/endpoints', {'endpoint': {
            'service_id': service, 'interface': 'public', 'url': url,
            'region_id': region, 'enabled': True}}, expected=201)

    def authtoken_options(self):
        """``[keystone_authtoken]`` of a service validating this Keystone's
        tokens as user ``nova``."""
        return {
            'www_authenticate_uri': self.auth_url,
            'auth_url': self.auth_url,
            'auth_type': 'password',
            'username': SERVICE.username,
            'password': SERVICE.password,
            'user_domain_name': 'Default',
            'project_name': SERVICE.project,
            'project_domain_name': 'Default',
            'region_name': REGION,
            # Bootstrap registers the public identity endpoint only.
            'interface': 'public',
            'service_type': 'compute',
            # No memcached; and no in-process token cache either, so that a
            # revoked token is refused on its next use.
            'token_cache_time': -1,
            'http_connect_timeout': 10,
        }


class KeystoneTestCase(shared.ClassFixturesTestCase):
    """One Keystone (``cls.keystone``) and one nova-aggregates-api behind
    auth_token (``cls.api``, fake driver) for the whole class; whatever
    ``set_up_class`` adds with ``use_class_fixture``.  Tests must not depend
    on each other's aggregates."""

    TOKEN_EXPIRATION = 3600

    @classmethod
    def check_available(cls):
        problem = venv_problem()
        if problem:
            shared.unavailable(REQUIRED_NAME, problem)

    @classmethod
    def prepare_class(cls):
        cls.keystone = cls.use_class_fixture(KeystoneFixture(
            token_expiration=cls.TOKEN_EXPIRATION))
        cls.api = cls.use_class_fixture(server.APIServerFixture(
            driver='fake', sections={
                'api': {'auth_strategy': 'keystone'},
                'keystone_authtoken': cls.keystone.authtoken_options(),
            }))
