"""``nova-aggregates-xenserver-sim``: run a simulated XenServer fleet until
signalled.

Prints one ``host <name> <url> <uuid>`` line per host, ``control <url>``,
``credentials <username> <password>`` (every host's login), (with --tls)
``ca <path>``, (with --show-pools) one ``pool ...`` line per pool, then
``ready``; serves until SIGTERM or SIGINT and exits 0.
"""

import argparse
import json
import logging
import signal
import sys
import threading

from nova_aggregates.xenserver_sim import Fleet

POOL_POLL_INTERVAL = 0.2


def build_parser():
    parser = argparse.ArgumentParser(
        prog='nova-aggregates-xenserver-sim',
        description='Simulated XenServer/XCP hosts speaking XenAPI over '
        'XML-RPC.',
    )
    parser.add_argument(
        '--hosts', type=int, default=4, help='number of hosts (4)'
    )
    parser.add_argument('--username', default='root', help='login user (root)')
    parser.add_argument(
        '--password', default='secret', help='login password (secret)'
    )
    parser.add_argument(
        '--tls',
        action='store_true',
        help='serve HTTPS with a generated self-signed certificate',
    )
    parser.add_argument(
        '--port',
        type=int,
        default=0,
        help='port of the hosts: with distinct addresses every host '
        'uses this port, else host i uses PORT+i-1 (0: free ports)',
    )
    parser.add_argument(
        '--bind-address',
        default='127.0.0.1',
        help='address for the control endpoint, and the hosts when '
        '--no-distinct-addresses is given (127.0.0.1)',
    )
    parser.add_argument(
        '--no-distinct-addresses',
        dest='distinct_addresses',
        action='store_false',
        help='all hosts on --bind-address with distinct ports instead '
        'of host i on 127.0.0.(10+i)',
    )
    parser.add_argument(
        '--control-port',
        type=int,
        default=0,
        help='port of the JSON admin endpoint (0: a free port)',
    )
    parser.add_argument(
        '--join-delay',
        type=float,
        default=1.0,
        help='seconds until a joined host restarts as a member (1)',
    )
    parser.add_argument(
        '--eject-delay',
        type=float,
        default=1.0,
        help='seconds an ejected host stays down rebooting (1)',
    )
    parser.add_argument(
        '--reboot-delay',
        type=float,
        default=1.0,
        help='seconds a host stays down after host.reboot (1)',
    )
    parser.add_argument(
        '--task-delay',
        type=float,
        default=0.0,
        help='seconds an Async task stays pending (0)',
    )
    parser.add_argument(
        '--migrate-delay',
        type=float,
        default=0.0,
        help='seconds a live migration (VM.pool_migrate) takes (0)',
    )
    parser.add_argument(
        '--show-pools',
        action='store_true',
        help='print the pools at start and whenever they change',
    )
    parser.add_argument(
        '--verbose',
        '-v',
        action='store_true',
        help='log simulator events to stderr',
    )
    return parser


def _pool_lines(fleet):
    return [
        'pool %s master=%s members=%s name=%s'
        % (
            p['uuid'],
            p['master'],
            ','.join(p['members']),
            json.dumps(p['name_label']),
        )
        for p in fleet.pools()
    ]


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s',
    )
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    previous = {
        sig: signal.signal(sig, on_signal)
        for sig in (signal.SIGTERM, signal.SIGINT)
    }
    fleet = Fleet(
        hosts=args.hosts,
        username=args.username,
        password=args.password,
        tls=args.tls,
        bind_address=args.bind_address,
        port=args.port,
        join_delay=args.join_delay,
        eject_delay=args.eject_delay,
        reboot_delay=args.reboot_delay,
        task_delay=args.task_delay,
        migrate_delay=args.migrate_delay,
        distinct_addresses=args.distinct_addresses,
        control_port=args.control_port,
    )
    try:
        fleet.start()
        for host in fleet.hosts:
            print(
                'host %s %s %s' % (host.name, host.url, host.uuid), flush=True
            )
        print('control %s' % fleet.control_url, flush=True)
        print('credentials %s %s' % (args.username, args.password), flush=True)
        if args.tls:
            print('ca %s' % fleet.ca_file, flush=True)
        shown = _pool_lines(fleet) if args.show_pools else None
        for line in shown or ():
            print(line, flush=True)
        print('ready', flush=True)
        while not stop.wait(POOL_POLL_INTERVAL if args.show_pools else 1.0):
            if args.show_pools:
                lines = _pool_lines(fleet)
                if lines != shown:
                    shown = lines
                    for line in lines:
                        print(line, flush=True)
    finally:
        fleet.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == '__main__':
    sys.exit(main())
