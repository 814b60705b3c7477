"""WSGI entry point for any WSGI server: ``nova_aggregates.wsgi:application``.

Configuration files come from ``NOVA_AGGREGATES_CONFIG_FILES`` (a
comma-separated list; default ``/etc/nova-aggregates/nova-aggregates.conf``
when it exists).
"""

import os

from nova_aggregates.cmd import common
from nova_aggregates.cmd import serving

_DEFAULT_CONFIG = '/etc/nova-aggregates/nova-aggregates.conf'


def init_application():
    files = os.environ.get('NOVA_AGGREGATES_CONFIG_FILES')
    if files is None:
        files = _DEFAULT_CONFIG if os.path.exists(_DEFAULT_CONFIG) else ''
    argv = []
    for path in filter(None, (p.strip() for p in files.split(','))):
        argv.extend(['--config-file', path])
    conf = common.parse_args(argv)
    return serving.load_app(conf)


application = init_application()
