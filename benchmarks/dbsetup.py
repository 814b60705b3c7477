"""``python -m benchmarks.dbsetup --config-file F --hosts-file H``: migrate
the database of F and register the compute hosts listed in H (JSON
``[[name, zone], ...]``) in one transaction -- what ``nova-aggregates-manage
db sync`` and one ``host add`` per host do, without a process per host."""

import argparse
import json
import sys

from nova_aggregates.cmd import common
from nova_aggregates import context
from nova_aggregates.db import api as db_api
from nova_aggregates.db import migration


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config-file', required=True)
    parser.add_argument('--hosts-file', required=True)
    args = parser.parse_args(argv)
    conf = common.parse_args(['--config-file', args.config_file])
    db_api.configure(conf)
    migration.db_sync()
    with open(args.hosts_file) as fh:
        hosts = json.load(fh)
    ctx = context.get_admin_context()
    with db_api.writer.using(ctx):
        for name, zone in hosts:
            db_api.compute_host_create(ctx, name, zone)
    db_api.dispose()
    print('registered %d compute hosts' % len(hosts))
    return 0


if __name__ == '__main__':
    sys.exit(main())
