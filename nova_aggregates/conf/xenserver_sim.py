"""``[xenserver_sim]``: the XenServer simulator nova-aggregates-api can run
inside its own process (development only, ``nova_aggregates.devserver``).

These options were ``[xenapi] embedded_simulator_*``; the old names still
work, with a deprecation warning.
"""

from oslo_config import cfg
from oslo_config import types

xenserver_sim_group = cfg.OptGroup(
    'xenserver_sim', title='Embedded XenServer simulator',
    help='Development only: the bundled XenServer simulator '
         '(doc/simulator.md) started inside nova-aggregates-api, as make '
         'serve does. Its hosts log in with [xenapi] connection_username.')

xenserver_sim_opts = [
    cfg.IntOpt('hosts', default=0, min=0,
               deprecated_name='embedded_simulator_hosts',
               deprecated_group='xenapi',
               help='Development only: start the bundled XenServer '
                    'simulator inside the API process with this many '
                    'hosts and register them as compute hosts. 0 '
                    'disables it.'),
    cfg.StrOpt('password', default='secret', secret=True,
               deprecated_name='embedded_simulator_password',
               deprecated_group='xenapi',
               help='Password of the embedded simulator hosts; it must '
                    'match [xenapi] connection_password.'),
    cfg.PortOpt('port', default=0,
                deprecated_name='embedded_simulator_port',
                deprecated_group='xenapi',
                help='Development only: port of the embedded simulator\'s '
                     'XenAPI endpoints. Host N listens on 127.0.0.(10+N) '
                     'at this port, so the URLs stay the same across '
                     'restarts. 0 picks a free port.'),
    cfg.PortOpt('control_port', default=0,
                deprecated_name='embedded_simulator_control_port',
                deprecated_group='xenapi',
                help='Development only: port of the embedded simulator\'s '
                     'admin endpoint on 127.0.0.1 (JSON: GET /pools, GET '
                     '/hosts, POST /faults, ...; see doc/simulator.md). '
                     '0 picks a free port; the URL is printed at start.'),
    cfg.ListOpt('guests', default=[],
                item_type=types.String(
                    regex=r'^[^:\s]+:[^:\s]+:[1-9][0-9]*$'),
                help='Development only: guest VMs the embedded simulator '
                     'starts, running, every time it starts, as '
                     'HOST:NAME:MEMORY_MB items (e.g. xenhost1:db:8192). '
                     'They are started after the pools the database '
                     'records are formed again; a host that is disabled or '
                     'in maintenance gets none. XenServer refuses a pool '
                     'join of a host running guests, so give guests to '
                     'hosts that will not join a pool (the first host of a '
                     'pool aggregate becomes its master, it joins '
                     'nothing).'),
    cfg.FloatOpt('reboot_seconds', default=1.0, min=0.0,
                 help='Development only: seconds a simulated host stays '
                      'down (connections refused) after XenAPI host.reboot, '
                      'e.g. during a rolling maintenance with host_action '
                      '"reboot"; it then answers again, enabled, as '
                      'XenServer does. Per host, POST /hosts/NAME/config '
                      '{"reboot_delay": S} on the admin endpoint.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts, as in conf.xenapi: oslo.config keeps
    # overrides on the group object.
    group = cfg.OptGroup(xenserver_sim_group.name,
                         title=xenserver_sim_group.title,
                         help=xenserver_sim_group.help)
    conf.register_group(group)
    conf.register_opts(xenserver_sim_opts, group=group)


def list_opts():
    return {xenserver_sim_group: xenserver_sim_opts}
