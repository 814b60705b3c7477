"""Development server: the bundled XenServer simulator inside the API.

``make serve`` (``etc/nova-aggregates-dev.conf``) asks nova-aggregates-api
for a simulated XenServer fleet with ``[xenserver_sim] hosts`` (options in
``nova_aggregates.conf.xenserver_sim``).  :func:`start_embedded_simulator`
starts it before the server forks its workers, registers its hosts as
compute hosts and forms again the pools the database records.

This is the only module of the service that imports
``nova_aggregates.xenserver_sim``, and only when the configuration asks for
the simulator, so production processes never load it.
"""

from nova_aggregates import constants
from nova_aggregates import context
from nova_aggregates import service


def start_embedded_simulator(conf):
    """Development only: a bundled XenServer simulator whose hosts are
    registered as compute hosts (two per availability zone).

    Returns the started fleet (the caller stops it after serving), or None
    when the configuration asks for no simulator.
    """
    opts = conf.xenserver_sim
    if not opts.hosts:
        return None
    from nova_aggregates.xenserver_sim import Fleet

    fleet = Fleet(hosts=opts.hosts,
                  username=conf.xenapi.connection_username,
                  password=opts.password, port=opts.port,
                  control_port=opts.control_port)
    fleet.start()
    services = service.get_services(conf)
    ctx = context.get_admin_context()
    registered = {h['name'] for h in services.compute_hosts.list(ctx)}
    for number, host in enumerate(fleet.hosts):
        zone = 'az%d' % (number // 2 + 1)
        if host.name in registered:
            services.compute_hosts.update(ctx, host.name,
                                          hypervisor_url=host.url)
        else:
            services.compute_hosts.register(ctx, host.name, zone, host.url)
        print('simulated XenServer host %s (%s) at %s' % (
            host.name, zone, host.url), flush=True)
    print('simulator control at %s (GET pools, hosts; see '
          'doc/simulator.md)' % fleet.control_url, flush=True)
    # The simulator keeps no state across restarts; the database does: form
    # the pools of an earlier run again on the fresh hosts.
    for agg in services.aggregates.list_aggregates(ctx):
        if agg['hosts'] and agg['metadata'].get(constants.POOL_FLAG) == \
                constants.POOL_FLAG_VALUE:
            try:
                services.recovery.reform_pool(ctx, agg['id'])
                print('re-formed the pool of aggregate %s on the simulated '
                      'hosts' % agg['name'], flush=True)
            except Exception as exc:  # noqa: B902 - start serving anyway
                print('warning: cannot re-form the pool of aggregate %s: %s'
                      % (agg['name'], exc), flush=True)
    return fleet
