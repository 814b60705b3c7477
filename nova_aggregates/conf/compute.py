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


def register_opts(conf):
    conf.register_opts(compute_opts)


def list_opts():
    return {'DEFAULT': compute_opts}
