"""The ``xenapi`` compute driver: pool aggregates are XenServer pools.

A thin facade: ``session.SessionManager`` owns the connections (one
logged-in session per host URL, timeouts, TLS, error translation) and
``pool.ResourcePool`` owns the pool rules and ``host.HostOps`` the host
status and maintenance steps.  All live as long as the driver, so
sessions, cached host facts and refs are reused across requests.
"""

from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import host as xhost
from nova_aggregates.virt.xenapi import pool as xpool
from nova_aggregates.virt.xenapi import session as xsession


class XenAPIDriver(driver.ComputeDriver):
    """Maps pool aggregates onto XenServer/XCP resource pools."""

    #: The manager keeps users from writing these keys via set_metadata.
    reserved_metadata_prefixes = (xpool.UUID_KEY_PREFIX,)

    def __init__(self, conf):
        super().__init__(conf)
        self._sessions = xsession.SessionManager(conf)
        self._pool = xpool.ResourcePool(conf, self._sessions)
        self._hosts = xhost.HostOps(conf, self._sessions, self._pool)

    def add_to_pool(self, pool, host):
        return self._pool.add_to_pool(pool, host)

    def remove_from_pool(self, pool, host):
        return self._pool.remove_from_pool(pool, host)

    def rename_pool(self, pool, new_name):
        self._pool.rename_pool(pool, new_name)

    def get_pool_state(self, pool):
        return self._pool.get_pool_state(pool)

    def get_host_resources(self, pool, host):
        return self._hosts.get_host_resources(pool, host)

    def set_host_enabled(self, pool, host, enabled):
        self._hosts.set_host_enabled(pool, host, enabled)

    def get_host_enabled(self, pool, host):
        return self._hosts.get_host_enabled(pool, host)

    def list_guests(self, pool, host):
        return self._hosts.list_guests(pool, host)

    def guest_counts(self, pools, hosts=()):
        return self._hosts.guest_counts(pools, hosts)

    def free_memory(self, pool, hosts):
        return self._hosts.free_memory(pool, hosts)

    def live_migrate(self, pool, guest, target):
        return self._hosts.live_migrate(pool, guest, target)

    def guest_location(self, pool, guest_uuid):
        return self._hosts.guest_location(pool, guest_uuid)

    def designate_new_master(self, pool, new_master):
        return self._hosts.designate_new_master(pool, new_master)

    def reboot_host(self, pool, host, timeout):
        self._hosts.reboot_host(pool, host, timeout)

    def cleanup(self):
        self._sessions.close_all()
