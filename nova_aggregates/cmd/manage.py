"""nova-aggregates-manage: database and compute host administration."""

import logging
import sys

from oslo_config import cfg
from oslo_db import exception as db_exc

from nova_aggregates.aggregates import placement_mirror
from nova_aggregates.cmd import common
from nova_aggregates import conf as na_conf
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration
from nova_aggregates import exception
from nova_aggregates import service


def _db_sync(conf):
    migration.db_sync(revision=conf.command.revision)
    print('Database is at revision %s.' % migration.db_version())


def _db_version(conf):
    print(migration.db_version() or 'empty')


def _services(conf):
    return service.get_services(conf)


def _host_add(conf):
    host = _services(conf).compute_hosts.register(
        context.get_admin_context(), conf.command.host_name, conf.command.zone,
        conf.command.hypervisor_url)
    print('Registered compute host %s.' % host['name'])


def _host_list(conf):
    ctx = context.get_admin_context()
    hosts = _services(conf).compute_hosts.list(ctx)
    # "away": guests its last evacuation moved, to move back on restore.
    rows = [('name', 'zone', 'hypervisor_url', 'status', 'maintenance',
             'away')] + [
        (h['name'], h['zone'], h['hypervisor_url'] or '-', h['status'],
         h['maintenance'], len(db_api.guest_origins_of(ctx, h['name'])))
        for h in hosts]
    widths = [max(len(str(row[i])) for row in rows)
              for i in range(len(rows[0]))]
    for row in rows:
        print('  '.join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


def _host_remove(conf):
    _services(conf).compute_hosts.unregister(context.get_admin_context(),
                                             conf.command.host_name)
    print('Removed compute host %s.' % conf.command.host_name)


def _aggregate_reconcile(conf):
    repaired = _services(conf).recovery.reconcile_interrupted(
        context.get_admin_context(), stale_after=conf.command.stale_after)
    print('Reconciled aggregates: %s' % (
        ', '.join(map(str, repaired)) or 'none'))


def _maintenance_watch(conf):
    from nova_aggregates.cmd import watch
    try:
        return watch.watch(_services(conf).rolling_maintenance,
                           context.get_admin_context(), conf.command.task_id,
                           interval=conf.command.interval)
    except KeyboardInterrupt:
        # Watching stops; the task goes on.
        print('\nStopped watching task %d; it goes on (watch it again, or '
              'cancel it: DELETE os-rolling-maintenance/%d).' % (
                  conf.command.task_id, conf.command.task_id))
        return 130


def _maintenance_runner(conf):
    """A task runner in the foreground, until interrupted (for deployments
    whose API runs inside another compute API, which runs none)."""
    runner = _services(conf).task_runner()
    print('Rolling maintenance runner %s; Ctrl-C stops it after the '
          'current step.' % runner.member, flush=True)
    runner.start()
    # It also retries the Placement mirror steps, as API workers do.
    retrier = _services(conf).placement_retrier()
    if retrier is not None:
        retrier.start()
    try:
        while True:
            runner.stopping.wait(3600)
    except KeyboardInterrupt:
        runner.stop()


def _placement_sync(conf):
    """Compare every aggregate's members with Placement, repair (unless
    --dry-run) and report; exit status 1 while drift remains."""
    # Whatever [placement] mirror_aggregates says: an operator turning
    # mirroring on first brings Placement in line.
    report = placement_mirror.PlacementMirror(conf).sync(
        context.get_admin_context(), dry_run=conf.command.dry_run)
    for line in report.lines():
        print(line)
    return 1 if report.remaining else 0


def _add_parsers(subparsers):
    db = subparsers.add_parser('db', help='database schema').add_subparsers(
        dest='action')
    sync = db.add_parser('sync', help='create or upgrade the schema')
    sync.add_argument('--revision', default='head')
    sync.set_defaults(func=_db_sync)
    db.add_parser('version', help='show the schema revision').set_defaults(
        func=_db_version)

    host = subparsers.add_parser('host', help='compute hosts').add_subparsers(
        dest='action')
    add = host.add_parser('add', help='register a compute host')
    add.add_argument('host_name', metavar='NAME')
    add.add_argument('--zone', default=None,
                     help='default availability zone of the host')
    add.add_argument('--hypervisor-url', default=None,
                     help='XenAPI URL of the host, e.g. https://10.0.0.5/')
    add.set_defaults(func=_host_add)
    host.add_parser('list', help='list compute hosts').set_defaults(
        func=_host_list)
    remove = host.add_parser('remove', help='unregister a compute host')
    remove.add_argument('host_name', metavar='NAME')
    remove.set_defaults(func=_host_remove)

    agg = subparsers.add_parser('aggregate', help='aggregates').add_subparsers(
        dest='action')
    rec = agg.add_parser('reconcile', help='repair pool operations left '
                         '"changing" by a process that died')
    rec.add_argument('--stale-after', type=float, default=None,
                     help='also take over operations older than this many '
                          'seconds')
    rec.set_defaults(func=_aggregate_reconcile)

    maint = subparsers.add_parser(
        'maintenance', help='rolling maintenance tasks').add_subparsers(
        dest='action')
    watch = maint.add_parser('watch', help='follow a task until it ends; '
                             'exit status 0 succeeded, 1 failed, 2 '
                             'cancelled')
    watch.add_argument('task_id', metavar='ID', type=int)
    watch.add_argument('--interval', type=float, default=1.0,
                       help='seconds between two looks (default 1)')
    watch.set_defaults(func=_maintenance_watch)
    maint.add_parser('runner', help='run a task runner in the foreground'
                     ).set_defaults(func=_maintenance_runner)

    placement = subparsers.add_parser(
        'placement', help='Placement mirroring').add_subparsers(
        dest='action')
    sync = placement.add_parser(
        'sync', help='compare aggregate members with Placement in both '
        'directions and repair; exit status 1 while drift remains')
    sync.add_argument('--dry-run', action='store_true',
                      help='only report what differs')
    sync.set_defaults(func=_placement_sync)


_COMMAND_OPT = cfg.SubCommandOpt('command', title='Commands',
                                 handler=_add_parsers)
_VERBOSE_OPT = cfg.BoolOpt('verbose', short='v', default=False,
                           help='Also print the informational log lines of '
                                'the libraries (e.g. each alembic '
                                'migration step).')

# argparse prints a usage given to it as it is: one line per command.
USAGE = """%(prog)s [--config-file F] [--verbose] COMMAND ...

  %(prog)s db sync [--revision R]
  %(prog)s db version
  %(prog)s host add NAME [--zone AZ] [--hypervisor-url URL]
  %(prog)s host list
  %(prog)s host remove NAME
  %(prog)s aggregate reconcile [--stale-after SECONDS]
  %(prog)s maintenance watch ID [--interval SECONDS]
  %(prog)s maintenance runner
  %(prog)s placement sync [--dry-run]

examples:
  %(prog)s --config-file /etc/nova-aggregates/nova-aggregates.conf db sync
  %(prog)s host add xen1 --zone az1 --hypervisor-url https://10.0.0.5/
  %(prog)s aggregate reconcile --stale-after 600
  %(prog)s maintenance watch 3
  %(prog)s placement sync --dry-run"""


def _quiet_libraries(conf):
    """Only warnings from the libraries unless --verbose or --debug: an
    operator running ``db sync`` wants its answer, not alembic's steps."""
    if not (conf.verbose or conf.debug):
        for name in ('alembic', 'oslo_db'):
            logging.getLogger(name).setLevel(logging.WARNING)


def main(argv=None):
    conf = na_conf.CONF
    if 'command' not in conf:
        conf.register_cli_opts([_COMMAND_OPT, _VERBOSE_OPT])
    common.parse_args(sys.argv[1:] if argv is None else argv, conf,
                      description=__doc__, usage=USAGE)
    _quiet_libraries(conf)
    func = getattr(conf.command, 'func', None)
    if func is None:
        print('usage: ' + USAGE % {'prog': 'nova-aggregates-manage'})
        return 2
    try:
        db_api.configure(conf)
        status = func(conf)
    except exception.AggregatesException as exc:
        print('Error: %s' % exc, file=sys.stderr)
        return 1
    except db_exc.DBError as exc:
        print('Error: the database at [database] connection cannot be '
              'used: %s' % str(exc).split('\n', 1)[0], file=sys.stderr)
        return 1
    finally:
        service.reset()
    return status or 0


if __name__ == '__main__':
    sys.exit(main())
