import os

from oslo_config import cfg

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_paste_config():
    """Find the packaged api-paste.ini in a checkout or an installed tree."""
    candidates = [
        os.path.join(os.path.dirname(_PACKAGE_DIR), 'etc', 'api-paste.ini'),
        os.path.join(_PACKAGE_DIR, 'etc', 'api-paste.ini'),
        os.path.join(os.sys.prefix, 'etc', 'nova-aggregates', 'api-paste.ini'),
    ]
    for path in candidates:
        if os.path.exists(path):
            return path
    return candidates[-1]


STANDARD_EXTENSIONS = [
    'nova_aggregates.api.contrib.aggregates.Aggregates',
    'nova_aggregates.api.contrib.hosts.Hosts',
    'nova_aggregates.api.contrib.services.Services',
]

api_group = cfg.OptGroup('api', title='API server options')

api_opts = [
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the API server listens on.'),
    cfg.PortOpt('bind_port', default=8774,
                help='Port the API server listens on.'),
    cfg.IntOpt('workers', default=1, min=1,
               help='Number of API worker processes.'),
    cfg.IntOpt('threads', default=8, min=1,
               help='Request threads per worker process.'),
    cfg.StrOpt('auth_strategy', default='noauth2',
               choices=[('noauth2', 'X-Auth-Token "user:project"; user '
                         '"admin" is an administrator. For testing and '
                         'the embedded setup only.'),
                        ('keystone', 'Identity from the headers set by '
                         'keystonemiddleware auth_token.')],
               help='How requests are authenticated. Selects the paste '
                    'pipeline of the same name.'),
    cfg.StrOpt('api_paste_config', default=default_paste_config(),
               sample_default='<package>/etc/api-paste.ini',
               help='Paste deploy configuration of the WSGI pipeline.'),
    cfg.ListOpt('extensions', default=STANDARD_EXTENSIONS,
                help='Dotted paths of the API extension descriptors to '
                     'load. Duplicate aliases are a startup error.'),
    cfg.IntOpt('max_request_body_size', default=114688, min=1,
               help='Largest request body accepted, in bytes; larger '
                    'bodies get 413.'),
    cfg.IntOpt('max_aggregate_metadata_items', default=128, min=1,
               help='Largest number of metadata keys one aggregate may '
                    'hold.'),
    cfg.StrOpt('default_availability_zone', default='nova',
               help='Zone shown for a compute host that is in no '
                    'aggregate with an availability zone and was '
                    'registered without one.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts: oslo.config keeps overrides on the
    # group object, so a shared one would leak them between instances.
    group = cfg.OptGroup(api_group.name, title=api_group.title)
    conf.register_group(group)
    conf.register_opts(api_opts, group=group)


def list_opts():
    return {api_group: api_opts}
