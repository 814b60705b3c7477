"""``[filter_scheduler]`` and ``[scheduler]``: which of Nova's scheduler
rules host matching (``POST os-host-matching``, api-contract section 15)
applies, under Nova's own option names and defaults, so that an operator
can copy the values of nova.conf.
"""

from oslo_config import cfg

#: Nova's default ``[filter_scheduler] enabled_filters`` (Nova 34's).  Of
#: these only ComputeFilter reads what this service knows; the others need
#: host state that only Nova's scheduler has and pass every host here.
NOVA_DEFAULT_FILTERS = [
    'ComputeFilter',
    'ComputeCapabilitiesFilter',
    'ImagePropertiesFilter',
    'ServerGroupAntiAffinityFilter',
    'ServerGroupAffinityFilter',
]

filter_scheduler_group = cfg.OptGroup(
    'filter_scheduler', title='Host matching: the scheduler filters',
    help='The filters of Nova\'s filter scheduler that POST '
         'os-host-matching evaluates, with the options Nova reads for '
         'them. Set them as in the nova.conf of the scheduler whose '
         'decisions the answers should predict.')

filter_scheduler_opts = [
    cfg.ListOpt('enabled_filters', default=NOVA_DEFAULT_FILTERS,
                help='Filter class names, in the order they run, as in '
                     'Nova. Evaluated: AggregateInstanceExtraSpecsFilter, '
                     'AggregateImagePropertiesIsolation, '
                     'AggregateMultiTenancyIsolation, '
                     'AggregateTypeAffinityFilter, '
                     'AggregateNumInstancesFilter, NumInstancesFilter, '
                     'AllHostsFilter and ComputeFilter; '
                     'AvailabilityZoneFilter is accepted (current Nova '
                     'applies the requested zone whatever this list says, '
                     'and so does host matching). Nova\'s other filter '
                     'names are accepted and pass every host: they need '
                     'host state only Nova\'s scheduler has (resources, '
                     'NUMA, PCI devices, server groups, metrics). Any '
                     'other name is a startup error, as in Nova. '
                     'ComputeFilter\'s rule (no disabled or in-maintenance '
                     'host) always applies, as Nova\'s mandatory compute '
                     'status pre-filter does.'),
    cfg.IntOpt('max_instances_per_host', default=50, min=1,
               help='A host already running this many guests (or more) '
                    'is refused by NumInstancesFilter, and by '
                    'AggregateNumInstancesFilter when none of its '
                    'aggregates sets max_instances_per_host or one of '
                    'their values is not an integer.'),
    cfg.StrOpt('aggregate_image_properties_isolation_namespace',
               help='AggregateImagePropertiesIsolation: only aggregate '
                    'metadata keys that start with this namespace and the '
                    'separator are compared with the image properties. '
                    'Unset: every key. As in Nova, only keys that are '
                    'standard image property names can ever refuse a '
                    'host.'),
    cfg.StrOpt('aggregate_image_properties_isolation_separator',
               default='.',
               help='AggregateImagePropertiesIsolation: what separates the '
                    'namespace from the property name.'),
]

scheduler_group = cfg.OptGroup(
    'scheduler', title='Host matching: the scheduler\'s pre-filters',
    help='The placement pre-filters of Nova\'s scheduler that POST '
         'os-host-matching applies.')

scheduler_opts = [
    cfg.BoolOpt('enable_isolated_aggregate_filtering', default=False,
                help='The isolate_aggregates pre-filter: a host in an '
                     'aggregate with metadata trait:<TRAIT>=required is a '
                     'match only for requests whose flavor (trait:<TRAIT> '
                     'or trait<suffix>:<TRAIT> = required) or image '
                     '(trait:<TRAIT> = required) requires that trait.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts, as in conf.xenapi: oslo.config keeps
    # overrides on the group object.
    for group, opts in ((filter_scheduler_group, filter_scheduler_opts),
                        (scheduler_group, scheduler_opts)):
        own = cfg.OptGroup(group.name, title=group.title, help=group.help)
        conf.register_group(own)
        conf.register_opts(opts, group=own)


def list_opts():
    return {filter_scheduler_group: filter_scheduler_opts,
            scheduler_group: scheduler_opts}
