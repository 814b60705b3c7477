"""A driver for logical aggregates: pools exist only in the database."""

from nova_aggregates import constants
from nova_aggregates.virt import driver


class FakeDriver(driver.ComputeDriver):
    """Accepts every pool change; records the first host as master."""

    def add_to_pool(self, pool, host):
        if pool.master is None:
            return driver.PoolChange(set_metadata={constants.MASTER: host.name})
        return driver.PoolChange()

    def remove_from_pool(self, pool, host):
        if host.name == pool.master:
            return driver.PoolChange(remove_metadata=(constants.MASTER,))
        return driver.PoolChange()

    def get_pool_state(self, pool):
        return driver.PoolState(master=pool.master,
                                members=frozenset(h.name for h in pool.members))
