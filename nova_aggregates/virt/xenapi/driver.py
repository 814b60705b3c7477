"""The ``xenapi`` compute driver: pool aggregates are XenServer pools.

A thin facade: ``session.SessionManager`` owns the connections (one
logged-in session per host URL, timeouts, TLS, error translation) and
``pool.ResourcePool`` owns the pool rules.  Both live as long as the
driver, so sessions and cached host facts are reused across requests.
"""

from nova_aggregates.virt import driver
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

    def add_to_pool(self, pool, host):
        return self._pool.add_to_pool(pool, host)

    def remove_from_pool(self, pool, host):
        return self._pool.remove_from_pool(pool, host)

    def rename_pool(self, pool, new_name):
        self._pool.rename_pool(pool, new_name)

    def get_pool_state(self, pool):
        return self._pool.get_pool_state(pool)

    def cleanup(self):
        self._sessions.close_all()
