from oslo_config import cfg

compute_opts = [
    cfg.StrOpt('compute_driver', default='fake',
               help='Hypervisor driver that carries out pool membership '
                    'changes, loaded by name from the '
                    '"nova_aggregates.virt.drivers" entry points. Built '
                    'in: "fake" (logical aggregates only) and "xenapi" '
                    '(XenServer/XCP resource pools).'),
    cfg.BoolOpt('pool_aggregates_by_default', default=False,
                help='Create every new aggregate as a hypervisor pool '
                     'aggregate (metadata hypervisor_pool=true).'),
]

compute_group = cfg.OptGroup('compute', title='Compute host inventory')

host_inventory_opts = [
    cfg.StrOpt('host_source', default='local',
               choices=[('local', 'The hosts registered with '
                         '"nova-aggregates-manage host add" (the standalone '
                         'service).'),
                        ('host_app', 'The nova-compute services of the '
                         'compute API behind the "extensions" paste filter '
                         '(GET os-services?binary=nova-compute, asked '
                         'in-process with the caller\'s identity), so no '
                         'host is registered twice. A host joining an '
                         'aggregate must be one of them; its hypervisor '
                         'URL, if a pool driver needs one, is still '
                         'registered with "nova-aggregates-manage host '
                         'add/update".')],
               help='Where the compute hosts that aggregates may hold come '
                    'from.'),
    cfg.FloatOpt('host_app_cache_time', default=5.0, min=0.0,
                 help='With host_source = host_app: seconds a listing of '
                      'the application\'s compute services is reused '
                      'before it is asked again (0: ask on every '
                      'add_host).'),
]


def register_opts(conf):
    conf.register_opts(compute_opts)
    conf.register_group(compute_group)
    conf.register_opts(host_inventory_opts, group=compute_group)


def list_opts():
    return {'DEFAULT': compute_opts, compute_group: host_inventory_opts}
