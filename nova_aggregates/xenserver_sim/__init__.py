"""A XenServer/XCP XenAPI simulator that the real ``XenAPI`` SDK talks to over
XML-RPC.

See doc/simulator.md.  Quick start::

    from nova_aggregates.xenserver_sim import Fleet

    with Fleet(hosts=3) as fleet:
        session = XenAPI.Session(fleet.host('xenhost1').url)
        session.login_with_password('root', 'secret')
"""

from nova_aggregates.xenserver_sim.fleet import Fleet
from nova_aggregates.xenserver_sim.model import SimHost

__all__ = ['Fleet', 'SimHost']
