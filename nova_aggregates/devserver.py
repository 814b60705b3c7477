"""Development server: the bundled XenServer simulator inside the API.

``make serve`` (``etc/nova-aggregates-dev.conf``) asks nova-aggregates-api
for a simulated XenServer fleet with ``[xenserver_sim] hosts`` (options in
``nova_aggregates.conf.xenserver_sim``).  :func:`start_embedded_simulator`
starts it before the server forks its workers, registers its hosts as
compute hosts, forms again the pools the database records and then starts
the guest VMs of ``[xenserver_sim] guests`` (after the pools: XenServer
refuses a pool join of a host running guests).

This is the only module of the service that imports
``nova_aggregates.xenserver_sim``, and only when the configuration asks for
the simulator, so production processes never load it.
"""

from nova_aggregates import constants
from nova_aggregates import context
from nova_aggregates import service

MIB = 1024 ** 2


def start_embedded_simulator(conf):
    """Development only: a bundled XenServer simulator whose hosts are
    registered as compute hosts (two per availability zone), with the
    pools of the database formed again and the configured guests running.

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
                  control_port=opts.control_port,
                  reboot_delay=opts.reboot_seconds)
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
    print('simulator control at %s (GET pools, hosts, vms; see '
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
    _start_guests(fleet, opts.guests, services.compute_hosts.list(ctx))
    return fleet


def parse_guest(item):
    """``HOST:NAME:MEMORY_MB`` -> (host, name, memory in bytes); the
    option's type has checked the form."""
    host, name, memory_mb = item.split(':')
    return host, name, int(memory_mb) * MIB


def _start_guests(fleet, items, hosts):
    """Start the configured guests, running, on hosts that are in service
    (a disabled host or one in maintenance takes no guest)."""
    rows = {h['name']: h for h in hosts}
    known = {h.name for h in fleet.hosts}
    for item in items:
        host, name, memory = parse_guest(item)
        if host not in known:
            print('warning: no simulated host %s for guest %s (hosts: %s)'
                  % (host, name, ', '.join(sorted(known))), flush=True)
            continue
        row = rows[host]
        if row['maintenance'] != constants.OFF_MAINTENANCE:
            why = 'in maintenance'
        elif row['status'] != constants.HOST_ENABLED:
            why = 'disabled'
        else:
            why = None
        if why is not None:
            print('guest %s not started: %s is %s' % (name, host, why),
                  flush=True)
            continue
        uuid = fleet.add_vm(host, name=name, memory=memory)
        print('guest %s (%d MiB) running on %s, uuid %s' % (
            name, memory // MIB, host, uuid), flush=True)
