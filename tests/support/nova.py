"""A real Nova compute API (and a real Placement) for functional tests.

``NovaDeployment`` runs Nova and Placement as installed in their own venv
(``.services/nova``: ``make services``, i.e. ``tools/service-venv.sh nova
...`` followed by ``pip install --no-deps -e .`` of this checkout, so that
our entry points and paste factories exist in Nova's processes), from a
temporary directory, as an operator would:

* Placement: ``placement.conf`` (SQLite, ``[api] auth_strategy =
  noauth2``: ``X-Auth-Token: admin`` is an administrator),
  ``placement-manage db sync``, served by gunicorn
  (``placement.wsgi.api:application``, which reads
  ``$OS_PLACEMENT_CONFIG_DIR/placement.conf``).
* Nova: ``nova.conf`` (SQLite API, cell0 and cell1 databases, the
  ``fake://`` messaging transport, ``[placement]`` with keystoneauth's
  ``admin_token`` plugin: a fixed endpoint and token, no Keystone), then
  what ``nova-manage api_db sync``, ``cell_v2 map_cell0``, ``db sync`` (the
  cell1 database and cell0's) and ``cell_v2 create_cell --name cell1`` do,
  through nova-manage's own command classes in one interpreter (each
  nova-manage process would spend a second importing Nova; ``manage()``
  runs the real command line when a test needs it); the compute API
  served by gunicorn (``nova.wsgi.osapi_compute:application``, which reads
  ``$OS_NOVA_CONFIG_DIR`` / ``$OS_NOVA_CONFIG_FILES`` and loads its paste
  pipeline from the *first* of those files, not from ``[wsgi]
  api_paste_config``).

Authentication.  Nova 34 no longer has a ``noauth2`` strategy: its packaged
``api-paste.ini`` has Keystone's ``authtoken`` in every authenticated
pipeline and no ``[api] auth_strategy`` option.  Two ways therefore:

* ``keystone=`` a running Keystone (``tests.functional.keystone.fixtures.
  KeystoneFixture``, or anything with ``authtoken_options()`` and
  ``admin_token()``): the paste file is used as given (by default Nova's
  own, untouched) and ``[keystone_authtoken]`` validates real tokens;
* no ``keystone``: the paste text (Nova's own by default, or the test's)
  has ``authtoken`` replaced by ``noauth2`` in its pipelines, a filter the
  fixture writes into its directory (gunicorn puts that directory on
  ``sys.path``) which, like Nova's former NoAuthMiddleware and
  Placement's, reads ``X-Auth-Token: user:project`` (user ``admin`` gets
  roles admin, member and reader, anyone else member and reader) and hands
  it on as the identity headers auth_token would set; Nova's own
  ``keystonecontext`` then builds the RequestContext.

``run_in_nova(code)`` runs a snippet with the venv's interpreter against the
deployment's ``nova.conf`` (Nova's objects, an admin context, the cells),
e.g. ``add_compute_service()`` and ``aggregates_by_host()``.

Everything runs in process groups of its own, stopped on cleanup.  When
``.services/nova`` is missing, ``check_available()`` skips (or fails, when
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nova``).

The Placement helpers (``write_placement_config``,
``placement_sync_command``, ``placement_env``, ``placement_server``,
``placement_http``) also serve ``tests/support/placement.py``, whose
``PlacementFixture`` is a Placement alone.
"""

import json
import os
import re
import signal
import subprocess
import textwrap
import time
import urllib.error
import urllib.request

import fixtures

from tests.support import http
from tests.support import process
from tests.support import shared

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
#: Where tools/service-venv.sh builds the venvs of the services.
SERVICES = os.environ.get('SERVICES_DIR') or os.path.join(REPO, '.services')
VENV = os.path.join(SERVICES, 'nova')
BIN = os.path.join(VENV, 'bin')
PYTHON = os.path.join(BIN, 'python')
#: The paste file the nova package ships (data_files of its wheel).
PACKAGED_PASTE_INI = os.path.join(VENV, 'etc', 'nova', 'api-paste.ini')
REQUIRED_NAME = 'nova'
START_TIMEOUT = 60
COMMAND_TIMEOUT = 120
#: ``[DEFAULT] host`` of the API service (its nova-osapi_compute record).
API_HOST = 'nova-api'
#: The admin token Placement's noauth2 strategy accepts.
PLACEMENT_TOKEN = 'admin'
PLACEMENT_VERSION = 'placement 1.39'
NOAUTH2_ADMIN = 'admin:admin'
NOAUTH2_MEMBER = 'member:member'
#: The module of the noauth2 filter, written into the deployment directory.
NOAUTH2_MODULE = 'novadeployment_noauth2'

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NovaError(Exception):
    """Nova or Placement could not be set up; the message ends with what
    they logged."""


def venv_problem():
    """Why the Nova venv cannot be used, or None."""
    if not os.path.exists(PYTHON):
        return 'run make services to build .services/nova'
    for command in ('nova-manage', 'placement-manage', 'gunicorn'):
        if not os.access(os.path.join(BIN, command), os.X_OK):
            return ('the Nova venv %s has no %s (run make services)'
                    % (VENV, command))
    return None


def check_available():
    """``unavailable('nova', ...)`` unless the Nova venv is usable."""
    problem = venv_problem()
    if problem:
        shared.unavailable(REQUIRED_NAME, problem)


def packaged_paste_ini():
    """The text of Nova's packaged api-paste.ini."""
    with open(PACKAGED_PASTE_INI) as f:
        return f.read()


_PIPELINE_KEY = re.compile(r'^(\s*[A-Za-z0-9_]+\s*[=:])(.*)$')


def noauth2_paste(text):
    """``text`` with ``authtoken`` replaced by ``noauth2`` in the pipelines
    (``pipeline =`` and the ``keystone =`` of Nova's pipeline factory), and a
    ``[filter:noauth2]`` section if there is none."""
    lines = []
    for line in text.splitlines(True):
        match = _PIPELINE_KEY.match(line)
        if match and match.group(1).split()[0].rstrip('=:') in (
                'pipeline', 'keystone', 'noauth2'):
            line = match.group(1) + re.sub(r'(?<!\S)authtoken(?!\S)',
                                           'noauth2', match.group(2)) + \
                ('\n' if line.endswith('\n') else '')
        lines.append(line)
    text = ''.join(lines)
    if not re.search(r'(?m)^\[filter:noauth2\]', text):
        text = text.rstrip('\n') + (
            '\n\n[filter:noauth2]\n'
            'paste.filter_factory = %s:filter_factory\n' % NOAUTH2_MODULE)
    return text


# The noauth2 filter, run inside Nova's process (its own venv: nothing of
# this checkout's tests is importable there).
_NOAUTH2_SOURCE = '''\
"""X-Auth-Token "user:project" as the identity auth_token would confirm.

Written by tests/support/nova.py for a test deployment without Keystone.
"""

_IDENTITY_PREFIXES = (
    'HTTP_X_USER', 'HTTP_X_PROJECT', 'HTTP_X_TENANT', 'HTTP_X_ROLE',
    'HTTP_X_IDENTITY_STATUS', 'HTTP_X_SERVICE', 'HTTP_X_DOMAIN',
    'HTTP_X_DEFAULT_PROJECT', 'HTTP_X_IS_ADMIN_PROJECT', 'HTTP_X_SYSTEM',
    'HTTP_OPENSTACK_SYSTEM_SCOPE', 'HTTP_X_AUTHORIZATION',
)
_UNAUTHORIZED = (b'{"error": {"code": 401, "title": "Unauthorized", '
                 b'"message": "The request you have made requires '
                 b'authentication."}}')


class NoAuth2:

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        for key in [k for k in environ if k.startswith(_IDENTITY_PREFIXES)]:
            del environ[key]
        token = environ.get('HTTP_X_AUTH_TOKEN', '').strip()
        user, _sep, project = token.partition(':')
        project = project or user
        if not user:
            start_response('401 Unauthorized', [
                ('Content-Type', 'application/json'),
                ('Content-Length', str(len(_UNAUTHORIZED))),
                ('WWW-Authenticate', 'Keystone uri="noauth2"')])
            return [_UNAUTHORIZED]
        roles = ['member', 'reader']
        if user == 'admin':
            roles.insert(0, 'admin')
        environ.update({
            'HTTP_X_IDENTITY_STATUS': 'Confirmed',
            'HTTP_X_USER_ID': user, 'HTTP_X_USER_NAME': user,
            'HTTP_X_USER_DOMAIN_ID': 'default',
            'HTTP_X_PROJECT_ID': project, 'HTTP_X_PROJECT_NAME': project,
            'HTTP_X_PROJECT_DOMAIN_ID': 'default',
            'HTTP_X_ROLES': ','.join(roles),
        })
        return self.application(environ, start_response)


def filter_factory(global_conf, **local_conf):
    return NoAuth2
'''

# What every run_in_nova snippet starts with: Nova's configuration, its
# objects, an admin context, the cell mappings by name, and emit().
_PRELUDE = '''\
import json
import sys

from nova import config
from nova import context
from nova import objects

config.parse_args([sys.argv[0]], default_config_files=[%(conf)r])
objects.register_all()
ctxt = context.get_admin_context()
cells = {cell.name: cell for cell in objects.CellMappingList.get_all(ctxt)}


def in_cell(name='cell1'):
    """An admin context targeted at cell ``name``."""
    return context.target_cell(ctxt, cells[name])


def emit(value):
    """Print ``value`` as the snippet's JSON result."""
    sys.stdout.write(json.dumps(value, default=str))
    sys.stdout.flush()

'''

# What "nova-manage api_db sync", "cell_v2 map_cell0 --database_connection
# CELL0", "db sync" (the cell1 database, then cell0's, now mapped) and
# "cell_v2 create_cell --name cell1 --database_connection CELL1
# --transport-url fake://" do, through nova-manage's own command classes in
# one interpreter: each nova-manage process spends a second importing Nova.
_CELLS_SETUP = '''\
import sys

from oslo_log import log as logging

from nova.cmd import manage
from nova import config
from nova import objects

config.parse_args(['nova-manage', '--config-file', %(conf)r])
logging.setup(config.CONF, 'nova')
objects.register_all()
steps = [
    ('api_db sync', 'api_db', 'sync', {}),
    ('cell_v2 map_cell0', 'cell_v2', 'map_cell0',
     {'database_connection': %(cell0)r}),
    ('db sync', 'db', 'sync', {}),
    ('cell_v2 create_cell --name cell1', 'cell_v2', 'create_cell',
     {'name': 'cell1', 'database_connection': %(cell1)r,
      'transport_url': 'fake://'}),
]
for title, category, action, kwargs in steps:
    print('nova-manage %%s' %% title, flush=True)
    status = getattr(manage.CATEGORIES[category](), action)(**kwargs)
    if status:
        print('nova-manage %%s: exit %%s' %% (title, status), flush=True)
        sys.exit(status)
'''

_ADD_COMPUTE = '''\
host, zone = %(host)r, %(zone)r
with in_cell('cell1') as cctxt:
    service = objects.Service(cctxt, host=host, binary='nova-compute',
                              topic='compute', report_count=0)
    service.create()
    node = objects.ComputeNode(
        cctxt, host=host, hypervisor_hostname=host, service_id=service.id,
        vcpus=8, memory_mb=16384, local_gb=200, vcpus_used=0,
        memory_mb_used=0, local_gb_used=0, free_ram_mb=16384,
        free_disk_gb=200, current_workload=0, running_vms=0,
        hypervisor_type='fake', hypervisor_version=1000, cpu_info='{}',
        disk_available_least=200, cpu_allocation_ratio=4.0,
        ram_allocation_ratio=1.0, disk_allocation_ratio=1.0, mapped=1)
    node.create()
# What "nova-manage cell_v2 discover_hosts" records for the new node.
objects.HostMapping(ctxt, host=host, cell_mapping=cells['cell1']).create()
if zone:
    aggregate = None
    for candidate in objects.AggregateList.get_all(ctxt):
        if candidate.name == zone:
            aggregate = candidate
    if aggregate is None:
        aggregate = objects.Aggregate(
            ctxt, name=zone, metadata={'availability_zone': zone})
        aggregate.create()
    aggregate.add_host(host)
emit({'service_id': service.id, 'service_uuid': service.uuid,
      'node_uuid': node.uuid, 'node': node.hypervisor_hostname})
'''

_AGGREGATES_BY_HOST = '''\
emit([{'id': aggregate.id, 'name': aggregate.name, 'uuid': aggregate.uuid,
       'hosts': list(aggregate.hosts or []),
       'metadata': dict(aggregate.metadata or {})}
      for aggregate in objects.AggregateList.get_by_host(ctxt, %(host)r)])
'''


def clean_env(**extra):
    """The environment of Nova's and Placement's processes: none of the
    test runner's OS_* (oslo.config reads OS_<GROUP>__<OPTION>), GUNICORN_*,
    NOVA_AGGREGATES_* or Python path variables, no proxy."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('OS_', 'GUNICORN_', 'NOVA_AGGREGATES_'))
           and key not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')
           and key.lower() not in ('http_proxy', 'https_proxy', 'all_proxy',
                                   'no_proxy')}
    env.update(extra)
    return env


def http_json(method, url, body=None, headers=None, timeout=30):
    """``(status, decoded JSON or bytes)`` of one request, whatever the
    status."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers['Content-Type'] = 'application/json'
    request = urllib.request.Request(url, data=data, method=method,
                                     headers=headers)
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        raw = response.read()
        if raw and response.headers.get('Content-Type', '').startswith(
                'application/json'):
            raw = json.loads(raw)
        return response.status, raw


def gunicorn_config(path, app, port, directory, threads=4):
    """gunicorn's settings in a file: Nova and Placement parse the process's
    command line as their own (oslo.config), which must stay empty."""
    with open(path, 'w') as f:
        f.write('wsgi_app = %r\n'
                'bind = %r\n'
                'chdir = %r\n'
                'pythonpath = %r\n'
                'workers = 1\n'
                'worker_class = "gthread"\n'
                'threads = %d\n'
                'timeout = 60\n'
                '# Stopped by SIGINT (quick shutdown): workers get 2 s.\n'
                'graceful_timeout = 2\n'
                'accesslog = "-"\n'
                '# Several servers run side by side.\n'
                'control_socket_disable = True\n'
                % (app, '127.0.0.1:%d' % port, directory, directory, threads))
    return path


def write_placement_config(directory, sections=None):
    """``placement.conf`` in ``directory`` (SQLite ``placement.sqlite``,
    ``[api] auth_strategy = noauth2``), ``sections`` (``{section: {option:
    value}}``) over it: ``(path, database URL)``."""
    database_url = 'sqlite:///' + os.path.join(directory, 'placement.sqlite')
    path = process.write_config(
        os.path.join(directory, 'placement.conf'), process.merge_sections({
            'DEFAULT': {'debug': 'false'},
            'api': {'auth_strategy': 'noauth2'},
            'placement_database': {'connection': database_url},
        }, sections))
    return path, database_url


def placement_sync_command(conf):
    """``placement-manage db sync`` of the configuration file ``conf``."""
    return [os.path.join(BIN, 'placement-manage'), '--config-file', conf,
            'db', 'sync']


def placement_env(directory):
    """The environment of Placement's processes: their configuration is
    ``directory/placement.conf``."""
    return clean_env(HOME=directory, OS_PLACEMENT_CONFIG_DIR=directory)


def placement_server(directory, port, threads=4):
    """Placement under gunicorn on 127.0.0.1:``port``, run from
    ``directory`` (``placement.conf`` there, its output in
    ``placement.log``): a ``ServerProcess``, not started."""
    config = gunicorn_config(
        os.path.join(directory, 'placement-gunicorn.conf.py'),
        'placement.wsgi.api:application', port, directory, threads)
    return process.ServerProcess(
        [os.path.join(BIN, 'gunicorn')], port,
        os.path.join(directory, 'placement.log'), 'Placement', cwd=directory,
        env=dict(placement_env(directory),
                 GUNICORN_CMD_ARGS='--config %s' % config))


def placement_http(url, method, path, body=None, version=PLACEMENT_VERSION):
    """``(status, body)`` of a request to the Placement at ``url`` as its
    admin (noauth2)."""
    return http_json(method, url + path, body, {
        'X-Auth-Token': PLACEMENT_TOKEN,
        'OpenStack-API-Version': version, 'Accept': 'application/json'})


class NovaDeployment(fixtures.Fixture):
    """Nova's compute API on ``url`` (``url + '/v2.1'``), Placement on
    ``placement_url``, both on free ports of 127.0.0.1.

    ``paste_ini``: None (Nova's packaged api-paste.ini), the text of a paste
    file, or a function of the packaged text returning the text to use.
    Without ``keystone``, the result goes through ``noauth2_paste()``.

    ``keystone``: a running Keystone fixture (``authtoken_options()``,
    ``admin_token()``) whose tokens Nova's ``authtoken`` validates.

    ``nova_conf`` / ``placement_conf``: ``{section: {option: value}}`` over
    the fixture's own settings.  ``files``: ``{name: text or {section:
    {option: value}}}`` written into ``dir`` before anything starts
    (``path(name)`` gives their paths), e.g. our own configuration file.
    ``extra_env``: variables of the Nova API process; a value may be a
    function of the deployment (``lambda d:
    d.path('nova-aggregates.conf')``).
    """

    def __init__(self, paste_ini=None, keystone=None, nova_conf=None,
                 placement_conf=None, files=None, extra_env=None,
                 threads=4):
        super().__init__()
        self.paste_ini = paste_ini
        self.keystone = keystone
        self.nova_conf_sections = nova_conf or {}
        self.placement_conf_sections = placement_conf or {}
        self.files = dict(files or {})
        self.extra_env = dict(extra_env or {})
        self.threads = threads
        self.nova_server = None
        self.placement_server = None
        #: Seconds from the start of the set-up to the end of each phase.
        self.timings = {}
        self._commands = []

    @classmethod
    def check_available(cls):
        check_available()

    # Set-up.

    def _setUp(self):
        problem = venv_problem()
        if problem:
            raise NovaError(problem)
        started = time.monotonic()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.addCleanup(self._stop)
        self.placement_port = process.free_port()
        self.placement_url = 'http://127.0.0.1:%d' % self.placement_port
        for name, content in self.files.items():
            if isinstance(content, dict):
                process.write_config(self.path(name), content)
            else:
                with open(self.path(name), 'w') as f:
                    f.write(content)
        self._write_placement_config()
        self._write_nova_config()
        # Placement's schema and Nova's databases and cells side by side;
        # Placement starts as soon as its schema is there.
        placement_sync = self._spawn(
            'placement-manage db sync',
            placement_sync_command(self.placement_conf),
            placement_env(self.dir))
        cells_setup = self._spawn('nova-manage (api_db sync, cell_v2 '
                                  'map_cell0, db sync, cell_v2 create_cell)',
                                  [PYTHON, '-c', _CELLS_SETUP % {
                                      'conf': self.nova_conf,
                                      'cell0': self.cell0_database_url,
                                      'cell1': self.database_url}])
        self._wait([placement_sync])
        self._start_placement()
        self._wait([cells_setup])
        self._phase('databases', started)
        self._start_nova()
        self._phase('nova', started)
        try:
            self.placement_server.wait_until_answers(START_TIMEOUT)
        except process.ServerStartError as exc:
            raise NovaError('Placement did not start: %s' % exc)
        self._phase('placement', started)

    def _phase(self, name, started):
        self.timings[name] = round(time.monotonic() - started, 2)

    def path(self, name):
        """The path of ``name`` in the deployment directory."""
        return os.path.join(self.dir, name)

    def _write_placement_config(self):
        self.placement_conf, self.placement_database_url = \
            write_placement_config(self.dir, self.placement_conf_sections)

    def _write_nova_config(self):
        self.api_database_url = 'sqlite:///' + self.path('nova_api.sqlite')
        self.database_url = 'sqlite:///' + self.path('nova_cell1.sqlite')
        self.cell0_database_url = 'sqlite:///' + self.path(
            'nova_cell0.sqlite')
        self.paste_ini_path = self.path('api-paste.ini')
        if self.paste_ini is None:
            text = packaged_paste_ini()
        elif callable(self.paste_ini):
            text = self.paste_ini(packaged_paste_ini())
        else:
            text = self.paste_ini
        if self.keystone is None:
            text = noauth2_paste(text)
            with open(self.path(NOAUTH2_MODULE + '.py'), 'w') as f:
                f.write(_NOAUTH2_SOURCE)
        with open(self.paste_ini_path, 'w') as f:
            f.write(text)
        self.paste_ini_text = text
        sections = {
            'DEFAULT': {
                'host': API_HOST,
                'debug': 'false',
                'state_path': self.dir,
                'transport_url': 'fake://',
                'concurrency_backend': 'threading',
            },
            'api_database': {'connection': self.api_database_url},
            'database': {'connection': self.database_url},
            'wsgi': {'api_paste_config': self.paste_ini_path},
            'oslo_concurrency': {'lock_path': self.path('locks')},
            'placement': {
                'auth_type': 'admin_token',
                'endpoint': self.placement_url,
                'token': PLACEMENT_TOKEN,
                'region_name': 'RegionOne',
            },
            'oslo_messaging_notifications': {'driver': 'noop'},
        }
        if self.keystone is not None:
            sections['keystone_authtoken'] = self.keystone.authtoken_options()
        self.nova_conf = process.write_config(
            self.path('nova.conf'),
            process.merge_sections(sections, self.nova_conf_sections))

    def _nova_env(self, **extra):
        return clean_env(HOME=self.dir,
                         OS_NOVA_DISABLE_EVENTLET_PATCHING='true', **extra)

    def _extra_env(self):
        return {name: value(self) if callable(value) else value
                for name, value in self.extra_env.items()}

    def _spawn(self, name, argv, env=None):
        """Start a set-up command (Nova's environment by default), its
        output appended to manage.log."""
        with open(self.path('manage.log'), 'a') as log:
            log.write('$ %s\n' % name)
            log.flush()
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir,
                env=env or self._nova_env(), start_new_session=True)
        self._commands.append(proc)
        return name, proc

    def _wait(self, spawned):
        """Wait for commands ``_spawn`` started; NovaError if one fails."""
        failed = []
        for name, proc in spawned:
            try:
                if proc.wait(COMMAND_TIMEOUT) != 0:
                    failed.append('%s (exit %s)' % (name, proc.returncode))
            except subprocess.TimeoutExpired:
                failed.append(name + ' (timed out)')
        if failed:
            raise NovaError('%s failed:\n%s' % (
                ', '.join(failed), self._tail(self.path('manage.log'))))

    def manage(self, *args, timeout=COMMAND_TIMEOUT):
        """Run ``nova-manage ARGS`` against ``nova_conf``: its
        ``CompletedProcess`` (text output), whatever the exit status."""
        return subprocess.run(
            [os.path.join(BIN, 'nova-manage'), '--config-file',
             self.nova_conf] + list(args), capture_output=True, text=True,
            cwd=self.dir, env=self._nova_env(), stdin=subprocess.DEVNULL,
            timeout=timeout)

    def _start_placement(self):
        self.placement_server = placement_server(self.dir,
                                                 self.placement_port)
        self.placement_server.start(wait=False)

    def _start_nova(self):
        env = self._nova_env(
            OS_NOVA_CONFIG_DIR=self.dir,
            # The WSGI app loads its pipeline from the first file.
            OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf',
            **self._extra_env())
        self.nova_log_path = self.path('nova-api.log')
        for attempt in range(3):
            self.port = process.free_port()
            config = gunicorn_config(
                self.path('nova-gunicorn.conf.py'),
                'nova.wsgi.osapi_compute:application', self.port, self.dir,
                self.threads)
            env['GUNICORN_CMD_ARGS'] = '--config %s' % config
            self.nova_server = process.ServerProcess(
                [os.path.join(BIN, 'gunicorn')], self.port,
                self.nova_log_path, 'Nova', cwd=self.dir, env=env,
                ready_path='/', ready_status=None)
            logged = len(self.nova_server.output())
            try:
                self.nova_server.start(START_TIMEOUT)
            except process.ServerExited as exc:
                if attempt < 2 and 'Address already in use' in \
                        self.nova_server.output()[logged:]:
                    continue
                raise NovaError('Nova API did not start: %s' % exc)
            except process.ServerStartError as exc:
                raise NovaError('Nova API did not answer: %s' % exc)
            break
        self.url = 'http://127.0.0.1:%d' % self.port
        self._check_answers()

    def _check_answers(self):
        """A gunicorn whose app failed to load answers 500 (or exits): the
        version document must be there."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                response = self.request('GET', '/', token=None)
            except OSError:
                response = None
            if response is not None and response.status == 200:
                return
            if not self.nova_server.running() or time.monotonic() > deadline:
                raise NovaError('Nova API answers %s to GET /:\n%s' % (
                    response, self.nova_server.log_tail()))
            time.sleep(0.1)

    def _stop(self):
        for proc in self._commands:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # SIGINT: gunicorn's quick shutdown (nothing to drain in a test).
        servers = [s for s in (self.nova_server, self.placement_server)
                   if s is not None]
        for server in servers:
            server.stop(signal.SIGINT, wait=False, group=True)
        for server in servers:
            server.stop(signal.SIGINT, timeout=10, group=True)

    # For tests.

    @property
    def log_text(self):
        """Everything the Nova API process logged so far."""
        return self.nova_server.output() if self.nova_server else ''

    def output(self):
        """What the set-up commands, Placement and Nova logged (for failure
        messages)."""
        text = []
        for name in ('manage.log', 'placement.log', 'nova-api.log'):
            try:
                with open(self.path(name)) as f:
                    text.append('==> %s <==\n%s' % (name, f.read()))
            except OSError:
                pass
        return '\n'.join(text)

    @staticmethod
    def _tail(path, lines=80):
        try:
            with open(path, errors='replace') as f:
                return ''.join(f.readlines()[-lines:])
        except OSError:
            return ''

    def admin_token(self):
        """A token Nova takes for an administrator."""
        if self.keystone is not None:
            return self.keystone.admin_token()
        return NOAUTH2_ADMIN

    def request(self, method, path, body=None, token=True, **kwargs):
        """One request to the compute API (``tests.support.http.request``);
        ``token=True``: the admin's."""
        if token is True:
            token = self.admin_token()
        return http.request(self.port, method, path, body, token=token,
                            **kwargs)

    def placement_request(self, method, path, body=None,
                          version=PLACEMENT_VERSION):
        """``(status, body)`` of a request to Placement as its admin."""
        return placement_http(self.placement_url, method, path, body,
                              version)

    def run_in_nova(self, code, timeout=COMMAND_TIMEOUT):
        """Run ``code`` with the Nova venv's Python against ``nova_conf``,
        after a prelude giving it ``objects``, ``context``, an admin
        ``ctxt``, ``cells`` (by name), ``in_cell(name)`` and ``emit(value)``
        (prints JSON), in the Nova API's environment (``extra_env``
        included).  Returns stdout, decoded if it is JSON."""
        source = _PRELUDE % {'conf': self.nova_conf} + textwrap.dedent(code)
        result = subprocess.run(
            [PYTHON, '-c', source], capture_output=True, text=True,
            cwd=self.dir, env=self._nova_env(**self._extra_env()),
            stdin=subprocess.DEVNULL, timeout=timeout)
        if result.returncode != 0:
            raise NovaError('snippet failed (exit %d):\n%s\n%s' % (
                result.returncode, result.stdout, result.stderr[-6000:]))
        try:
            return json.loads(result.stdout)
        except ValueError:
            return result.stdout

    def add_compute_service(self, host, zone=None):
        """Register ``host`` as a nova-compute would: its service record and
        compute node (node name ``host``) in cell1, its host mapping, and
        its resource provider in Placement (uuid of the compute node).
        ``zone``: the host is also put in the aggregate named ``zone`` whose
        ``availability_zone`` is ``zone`` (created if new), which is how
        Nova places a host in a zone.  Returns the new records' ids."""
        created = self.run_in_nova(_ADD_COMPUTE % {'host': host,
                                                   'zone': zone})
        status, body = self.placement_request('POST', '/resource_providers', {
            'name': created['node'], 'uuid': created['node_uuid']})
        if status != 200:
            raise NovaError('Placement refused the provider of %s: %s %s'
                            % (host, status, body))
        return created

    def aggregates_by_host(self, host):
        """``AggregateList.get_by_host`` as Nova's objects see it: a list of
        ``{'id', 'name', 'uuid', 'hosts', 'metadata'}``."""
        return self.run_in_nova(_AGGREGATES_BY_HOST % {'host': host})


class NovaTestCase(shared.ClassFixturesTestCase):
    """One ``NovaDeployment`` (``cls.nova``) for the whole class, built from
    ``nova_kwargs()``; skipped (or failed, when required) without the Nova
    venv.  Tests must not depend on each other's data (unique names)."""

    @classmethod
    def check_available(cls):
        check_available()

    @classmethod
    def nova_kwargs(cls):
        """The ``NovaDeployment`` arguments of the class."""
        return {}

    @classmethod
    def prepare_class(cls):
        cls.nova = cls.use_class_fixture(NovaDeployment(**cls.nova_kwargs()))
