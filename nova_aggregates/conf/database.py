from oslo_config import cfg
from oslo_db import options as db_options

# Relative to the working directory of the command (`make serve` runs in the
# checkout, so the file is ./var/nova-aggregates.sqlite).
_DEFAULT_CONNECTION = 'sqlite:///var/nova-aggregates.sqlite'

OWN = 'own'
NOVA_API = 'nova_api'

aggregate_store = cfg.StrOpt(
    'aggregate_store', default=OWN,
    choices=[
        (OWN, "this service's own tables"),
        (NOVA_API, "the tables of Nova's API database"),
    ],
    help='Where aggregates, their hosts and their metadata are stored. '
         '"own": in tables of this service, created by '
         '"nova-aggregates-manage db sync" in the database of [database] '
         'connection; Nova does not see them. "nova_api": in the aggregates, '
         "aggregate_hosts and aggregate_metadata tables of Nova's API "
         'database, as Nova\'s schema defines them; [database] connection '
         "must then name the database of Nova's [api_database] connection. "
         "Nova's scheduler (AggregateList.get_by_host), its availability "
         'zones (metadata key "availability_zone") and "nova-manage '
         'placement sync_aggregates" see every change made here, and what '
         "Nova's own API and tools create is seen and managed here. This "
         "service never creates, alters or migrates Nova's tables: run "
         '"nova-manage api_db sync" first; "db sync" then adds only this '
         "service's tables (the compute host registry and the state of "
         'aggregates that Nova has no column for, with a version table of '
         "their own). Nova's columns compare with the database's default "
         'collation, which then applies to names, hosts and metadata (on '
         'MySQL/MariaDB: case-insensitive, and utf8 of at most three bytes '
         'a character).')


def register_opts(conf):
    # oslo.db declares the [database] group; we pick the default connection
    # and add the store.
    db_options.set_defaults(conf, connection=_DEFAULT_CONNECTION)
    conf.register_opt(aggregate_store, group='database')


def list_opts():
    return {'database': db_options.database_opts + [aggregate_store]}
