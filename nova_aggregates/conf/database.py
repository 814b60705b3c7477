import os

from oslo_db import options as db_options

_DEFAULT_CONNECTION = 'sqlite:///' + os.path.join(
    os.path.abspath('var'), 'nova-aggregates.sqlite')


def register_opts(conf):
    # oslo.db declares the [database] group; we only pick the default.
    db_options.set_defaults(conf, connection=_DEFAULT_CONNECTION)


def list_opts():
    return {'database': db_options.database_opts}
