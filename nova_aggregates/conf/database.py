from oslo_db import options as db_options

# Relative to the working directory of the command (`make serve` runs in the
# checkout, so the file is ./var/nova-aggregates.sqlite).
_DEFAULT_CONNECTION = 'sqlite:///var/nova-aggregates.sqlite'


def register_opts(conf):
    # oslo.db declares the [database] group; we only pick the default.
    db_options.set_defaults(conf, connection=_DEFAULT_CONNECTION)


def list_opts():
    return {'database': db_options.database_opts}
