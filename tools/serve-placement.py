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
import os
import signal
import socket
import subprocess
import sys

from oslo_config import cfg

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
# Placement is run as the tests run it (tests/support/nova.py).
from tests.support import nova  # noqa: E402
from tests.support import process  # noqa: E402

BIN = os.path.dirname(os.path.abspath(sys.executable))
DIR = os.path.join(REPO, 'var', 'placement')


def simulated_hosts(config_files):
    """Names of the hosts the embedded simulator of ``config_files``
    registers: xenhost1 ... xenhostN (nova_aggregates/devserver.py)."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt('hosts', default=0), group='xenserver_sim')
    conf(['--config-file=%s' % f for f in config_files],
         project='nova-aggregates', default_config_files=[])
    return ['xenhost%d' % i for i in range(1, conf.xenserver_sim.hosts + 1)]


def write_files(port):
    """Placement's configuration, and ours for mirroring into it: the
    path of the latter."""
    os.makedirs(DIR, exist_ok=True)
    nova.write_placement_config(DIR)
    mirror = os.path.join(DIR, 'mirror.conf')
    with open(mirror, 'w') as f:
        f.write('# Written by tools/serve-placement.py (make serve '
                'PLACEMENT=1).\n'
                '[placement]\nmirror_aggregates = true\n'
                'auth_type = admin_token\nendpoint = http://127.0.0.1:%d\n'
                'token = %s\n' % (port, nova.PLACEMENT_TOKEN))
    return mirror


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


def start_placement(port):
    """``placement-manage db sync``, then Placement's gunicorn in a process
    group of its own (Ctrl-C reaches the API, and this script stops
    Placement after it)."""
    log_path = os.path.join(DIR, 'placement.log')
    with open(log_path, 'ab') as log:
        if subprocess.run(
                nova.placement_sync_command(os.path.join(DIR,
                                                         'placement.conf')),
                env=nova.placement_env(DIR), cwd=DIR, stdout=log,
                stderr=subprocess.STDOUT).returncode:
            with open(log_path, errors='replace') as f:
                raise SystemExit('placement-manage db sync failed:\n%s'
                                 % ''.join(f.readlines()[-30:]))
    server = nova.placement_server(DIR, port)
    try:
        server.start(timeout=60)
    except process.ServerStartError as exc:
        server.stop(group=True)
        raise SystemExit('Placement did not start: %s\n%s'
                         % (exc, server.log_tail(30)))
    return server


def request(port, method, path, body=None):
    """``(status, decoded JSON)`` of a request to Placement as its admin."""
    return nova.placement_http('http://127.0.0.1:%d' % port, method, path,
                               body)


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
    problem = nova.venv_problem()
    if problem:
        return 'no Placement in .services/nova: %s' % problem
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
              % (args.port, nova.PLACEMENT_TOKEN, os.path.relpath(
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
        placement.stop(timeout=10, group=True)
        print('Placement stopped.', flush=True)


if __name__ == '__main__':
    sys.exit(main())
