"""``[placement]``: mirroring aggregate memberships into OpenStack Placement
(api-contract §16).

The group takes keystoneauth's standard options, as Nova's own
``[placement]`` group does (``auth_type`` and the plugin's options, e.g.
``admin_token`` with ``endpoint`` and ``token``, or ``password`` with
``auth_url``, ``username``...; the session's ``timeout``, ``cafile``...;
the adapter's ``valid_interfaces``, ``region_name``,
``endpoint_override``...), plus our own switch and retry settings.
"""

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

GROUP = 'placement'

placement_group = cfg.OptGroup(
    GROUP, title='Placement mirroring',
    help='Every aggregate\'s uuid is put on the resource provider of each '
         'member host (by host name), as Nova does, so that Nova\'s '
         'scheduler pre-filters see our aggregates.')

placement_opts = [
    cfg.BoolOpt('mirror_aggregates', default=False,
                help='Mirror aggregate memberships into Placement. When '
                     'on, add_host and remove_host first ask Placement for '
                     'the host\'s resource provider (a Placement that '
                     'cannot be reached fails the request with nothing '
                     'changed), then change the membership there after '
                     'the change is recorded; a mirror step that fails '
                     'then is kept and retried (metadata key '
                     'placement_mirror:<host> shows it) until it succeeds. '
                     'Off: Placement is never called.'),
    cfg.IntOpt('generation_conflict_retries', default=10, min=0,
               help='Times a membership change is tried again when '
                    'another writer changed the resource provider between '
                    'our read and our write (409 generation conflict).'),
    cfg.FloatOpt('retry_interval', default=10.0, min=0.1,
                 help='Seconds between attempts at a mirror step that '
                      'failed (each API worker retries the steps that are '
                      'due).'),
]

#: Our defaults of keystoneauth's options.  The session's timeout has none
#: (wait forever): an API request must not hang on Placement.  Declared on
#: the options themselves, which a ``conf.reset()`` keeps (``set_default``
#: does not survive it).
_DEFAULTS = {'timeout': 10, 'service_type': 'placement',
             'valid_interfaces': ['internal', 'public']}


def _with_defaults(opts):
    for opt in opts:
        if opt.dest in _DEFAULTS:
            opt.default = _DEFAULTS[opt.dest]
    return opts


def _session_and_adapter_opts():
    return _with_defaults(
        ks_loading.get_session_conf_options() +
        ks_loading.get_adapter_conf_options(include_deprecated=False))


def register_opts(conf):
    own = cfg.OptGroup(placement_group.name, title=placement_group.title,
                       help=placement_group.help)
    conf.register_group(own)
    conf.register_opts(placement_opts, group=own)
    conf.register_opts(_session_and_adapter_opts(), group=own)
    # auth_type and auth_section; the plugin's own options are registered
    # by keystoneauth when it loads the plugin.
    ks_loading.register_auth_conf_options(conf, GROUP)


def list_opts():
    """For the sample file: ours, keystoneauth's session and adapter
    options, and those of the common plugins (admin_token, password)."""
    opts = list(placement_opts)
    seen = {opt.dest for opt in opts}
    for opt in (_session_and_adapter_opts() +
                ks_loading.get_auth_common_conf_options() +
                ks_loading.get_auth_plugin_conf_options('admin_token') +
                ks_loading.get_auth_plugin_conf_options('password')):
        if opt.dest not in seen:
            seen.add(opt.dest)
            opts.append(opt)
    return {placement_group: opts}
