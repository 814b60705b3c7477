"""``make serve PLACEMENT=1``: the embedded setup, mirroring its aggregates
into a local OpenStack Placement (api-contract section 16).

    .venv/bin/python tools/serve-placement.py --config-file CONFIG [--port 8778]

1. Placement from the Nova venv (``.services/nova``, ``make services``), its
   files in ``var/placement/``: ``placement.conf`` (SQLite
   ``placement.sqlite``, ``[api] auth_strategy = noauth2``: ``X-Auth-Token:
   admin`` is its administrator), ``placement-manage db sync``, then
   gunicorn on 127.0.0.1:PORT, logging to ``placement.log``;
2. a resource provider for each simulated XenServer host of CONFIG
   (``[xenserver_sim] hosts``: ``xenhost1`` ... ``xenhostN``, the names the
   embedded simulator registers), unless Placement has it already;
3. ``var/placement/mirror.conf``: ``[placement] mirror_aggregates = true``
   and keystoneauth's ``admin_token`` plugin at Placement's endpoint, read
   after CONFIG; ``nova-aggregates-manage placement sync`` with both files,
   so that memberships made while Placement was not there are mirrored;
4. ``nova-aggregates-api --config-file CONFIG --config-file
   var/placement/mirror.conf`` in the foreground until Ctrl-C; then
   Placement is stopped (its whole process group).

Both databases stay in ``var/`` from one run to the next (``rm -rf var``
starts from scratch).
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from oslo_config import cfg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOVA_BIN = os.path.join(REPO, '.services', 'nova', 'bin')
BIN = os.path.dirname(os.path.abspath(sys.executable))
DIR = os.path.join(REPO, 'var', 'placement')
TOKEN = 'admin'
HEADERS = {'X-Auth-Token': TOKEN, 'Accept': 'application/json',
           'Content-Type': 'application/json',
           'OpenStack-API-Version': 'placement 1.19'}
# No proxy between us and 127.0.0.1, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def simulated_hosts(config_files):
    """Names of the hosts the embedded simulator of ``config_files``
    registers: xenhost1 ... xenhostN (nova_aggregates/devserver.py)."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt('hosts', default=0), group='xenserver_sim')
    conf(['--config-file=%s' % f for f in config_files],
         project='nova-aggregates', default_config_files=[])
    return ['xenhost%d' % i for i in range(1, conf.xenserver_sim.hosts + 1)]


def placement_env():
    """Placement reads $OS_PLACEMENT_CONFIG_DIR/placement.conf; none of our
    venv's or the caller's OS_*, GUNICORN_* or Python path variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('OS_', 'GUNICORN_', 'NOVA_AGGREGATES_'))
           and key not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env['OS_PLACEMENT_CONFIG_DIR'] = DIR
    # gunicorn's settings from a file: Placement's command line stays empty.
    env['GUNICORN_CMD_ARGS'] = '--config %s' % os.path.join(
        DIR, 'gunicorn.conf.py')
    return env


def write_files(port):
    os.makedirs(DIR, exist_ok=True)
    with open(os.path.join(DIR, 'placement.conf'), 'w') as f:
        f.write('[api]\nauth_strategy = noauth2\n\n'
                '[placement_database]\nconnection = sqlite:///%s\n'
                % os.path.join(DIR, 'placement.sqlite'))
    with open(os.path.join(DIR, 'gunicorn.conf.py'), 'w') as f:
        f.write('wsgi_app = "placement.wsgi.api:application"\n'
                'bind = "127.0.0.1:%d"\n'
                'workers = 1\n'
                'worker_class = "gthread"\n'
                'threads = 4\n'
                'graceful_timeout = 2\n'
                'control_socket_disable = True\n' % port)
    mirror = os.path.join(DIR, 'mirror.conf')
    with open(mirror, 'w') as f:
        f.write('# Written by tools/serve-placement.py (make serve '
                'PLACEMENT=1).\n'
                '[placement]\nmirror_aggregates = true\n'
                'auth_type = admin_token\nendpoint = http://127.0.0.1:%d\n'
                'token = %s\n' % (port, TOKEN))
    return mirror


def request(port, method, path, body=None):
    """``(status, decoded JSON)`` of a request to Placement."""
    req = urllib.request.Request(
        'http://127.0.0.1:%d%s' % (port, path), method=method,
        headers=HEADERS,
        data=None if body is None else json.dumps(body).encode())
    try:
        response = _OPENER.open(req, timeout=10)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def port_free(port):
    with socket.socket() as sock:
        # As gunicorn binds: connections of an earlier run in TIME_WAIT do
        # not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def log_tail(lines=30):
    with open(os.path.join(DIR, 'placement.log'), errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def start_placement(port):
    """Placement's gunicorn in a process group of its own (Ctrl-C reaches
    the API, and this script stops Placement after it)."""
    env = placement_env()
    with open(os.path.join(DIR, 'placement.log'), 'ab') as log:
        if subprocess.run([os.path.join(NOVA_BIN, 'placement-manage'),
                           '--config-file',
                           os.path.join(DIR, 'placement.conf'), 'db', 'sync'],
                          env=env, cwd=DIR, stdout=log,
                          stderr=subprocess.STDOUT).returncode:
            raise SystemExit('placement-manage db sync failed:\n%s'
                             % log_tail())
        proc = subprocess.Popen([os.path.join(NOVA_BIN, 'gunicorn')],
                                env=env, cwd=DIR, stdout=log,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        wait_until_answers(proc, port)
    except BaseException:
        stop(proc)
        raise
    return proc


def wait_until_answers(proc, port, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise SystemExit('Placement exited at start:\n%s' % log_tail())
        try:
            if request(port, 'GET', '/')[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit('Placement did not answer within %d s:\n%s'
                             % (timeout, log_tail()))
        time.sleep(0.1)


def stop(proc):
    """SIGINT (gunicorn's quick shutdown) to Placement's process group,
    then SIGKILL to whatever is left of it."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        return
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def create_providers(port, names):
    if not names:
        print('no simulated XenServer hosts ([xenserver_sim] hosts): no '
              'resource provider created', flush=True)
    for name in names:
        status, body = request(port, 'POST', '/resource_providers',
                               {'name': name})
        # 409: it exists (an earlier run).
        if status not in (200, 201, 409):
            raise SystemExit('Placement: creating resource provider %s: %s '
                             '%s' % (name, status, body))
        _, found = request(port, 'GET', '/resource_providers?name=' + name)
        print('resource provider %s: %s' % (
            name, found['resource_providers'][0]['uuid']), flush=True)


def serve(config_files):
    """The API in the foreground (in our process group, so that Ctrl-C
    reaches it as with ``make serve``); its exit status."""
    command = [os.path.join(BIN, 'nova-aggregates-api')]
    for path in config_files:
        command += ['--config-file', path]
    api = subprocess.Popen(command)
    # A SIGTERM of ours (e.g. the end of make) is the API's too.
    signal.signal(signal.SIGTERM, lambda *_: api.send_signal(signal.SIGTERM))
    while True:
        try:
            return api.wait()
        except KeyboardInterrupt:
            continue  # the API got the same SIGINT: wait until it is done


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config-file', action='append', required=True,
                        help='configuration of the API (repeatable)')
    parser.add_argument('--port', type=int, default=8778,
                        help="Placement's port on 127.0.0.1")
    args = parser.parse_args(argv)
    # Until the API runs, a SIGTERM ends this script the way Ctrl-C does:
    # through the clean-up below, Placement stopped.
    signal.signal(signal.SIGTERM, _terminated)
    if not os.access(os.path.join(NOVA_BIN, 'placement-manage'), os.X_OK):
        return 'no Placement in .services/nova: run make services'
    if not port_free(args.port):
        return ('127.0.0.1:%d is in use (another Placement?); choose '
                'another port: make serve PLACEMENT=1 PLACEMENT_PORT=N'
                % args.port)
    hosts = simulated_hosts(args.config_file)
    mirror = write_files(args.port)
    try:
        placement = start_placement(args.port)
    except KeyboardInterrupt:
        return 130
    try:
        print('Placement at http://127.0.0.1:%d (X-Auth-Token: %s), log %s'
              % (args.port, TOKEN, os.path.relpath(
                  os.path.join(DIR, 'placement.log'))), flush=True)
        create_providers(args.port, hosts)
        config_files = args.config_file + [mirror]
        manage = [os.path.join(BIN, 'nova-aggregates-manage')]
        for path in config_files:
            manage += ['--config-file', path]
        # Non-zero when a member host has no provider (one added with
        # "host add"): said, not fatal.
        subprocess.run(manage + ['placement', 'sync'])
        return serve(config_files)
    except KeyboardInterrupt:
        return 130
    finally:
        stop(placement)
        print('Placement stopped.', flush=True)


if __name__ == '__main__':
    sys.exit(main())
