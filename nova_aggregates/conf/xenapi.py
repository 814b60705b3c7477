from oslo_config import cfg

xenapi_group = cfg.OptGroup('xenapi', title='XenServer/XCP pool driver')

xenapi_opts = [
    cfg.StrOpt('connection_username', default='root',
               help='User name for XenAPI logins on every compute host.'),
    cfg.StrOpt('connection_password', secret=True, default='',
               help='Password for XenAPI logins on every compute host.'),
    cfg.FloatOpt('connect_timeout', default=5.0, min=0.1,
                 help='Seconds to wait for a TCP/TLS connection to a '
                      'XenServer host.'),
    cfg.FloatOpt('call_timeout', default=30.0, min=0.1,
                 help='Seconds to wait for the answer to one XenAPI '
                      'call.'),
    cfg.FloatOpt('join_timeout', default=60.0, min=0.1,
                 help='Seconds to wait for a joining host to show up as a '
                      'member on the pool master.'),
    cfg.FloatOpt('poll_interval', default=0.2, min=0.01,
                 help='Seconds between checks while waiting for a join or '
                      'eject to take effect.'),
    cfg.BoolOpt('use_join_force', default=False,
                help='Use pool.join_force, which skips the CPU and '
                     'software homogeneity checks.'),
    cfg.BoolOpt('verify_tls', default=True,
                help='Verify XenServer TLS certificates. Turn off only for '
                     'hosts with self-signed certificates you trust.'),
    cfg.StrOpt('ca_file',
               help='CA bundle to verify XenServer certificates with.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts: oslo.config keeps overrides on the
    # group object, so a shared one would leak them between instances.
    group = cfg.OptGroup(xenapi_group.name, title=xenapi_group.title)
    conf.register_group(group)
    conf.register_opts(xenapi_opts, group=group)


def list_opts():
    return {xenapi_group: xenapi_opts}
