"""``python -m nova_aggregates.xenserver_sim``: the simulator's command.

The same as ``nova-aggregates-xenserver-sim``; see ``cli``.
"""

import sys

from nova_aggregates.xenserver_sim import cli

if __name__ == '__main__':
    sys.exit(cli.main())
