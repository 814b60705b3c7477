"""Start-up shared by the commands: configuration files and logging."""

from oslo_log import log as logging

from nova_aggregates import conf as na_conf

_LOGGING_REGISTERED = False


def parse_args(argv, conf=None, description=None, usage=None):
    """Parse ``--config-file`` & co. into CONF and set up logging."""
    global _LOGGING_REGISTERED
    conf = conf or na_conf.CONF
    if not _LOGGING_REGISTERED:
        logging.register_options(conf)
        _LOGGING_REGISTERED = True
    conf(argv, project='nova-aggregates', description=description,
         usage=usage, default_config_files=[])
    logging.setup(conf, 'nova-aggregates')
    return conf
