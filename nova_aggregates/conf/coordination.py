"""``[coordination]``: who runs a long task (a pool operation, a rolling
maintenance task), seen from every node: tooz locks held by live processes.
"""

from oslo_config import cfg

coordination_group = cfg.OptGroup(
    'coordination', title='Coordination between nodes',
    help='The tooz backend through which processes of every node tell '
         'whether the owner of a task is alive.')

coordination_opts = [
    cfg.StrOpt('backend_url', secret=True,
               help='tooz backend URL, e.g. etcd3+http://10.0.0.2:2379, '
                    'redis://10.0.0.3:6379, zookeeper://10.0.0.4:2181 or '
                    'file:///var/lib/nova-aggregates/locks (one node only). '
                    'Unset: the database of [database] connection on '
                    'PostgreSQL and MySQL (advisory locks; a session '
                    'ends with its process), and a lock directory next to '
                    'a SQLite file (one node, which is all SQLite serves).'),
]


def register_opts(conf):
    own = cfg.OptGroup(coordination_group.name,
                       title=coordination_group.title,
                       help=coordination_group.help)
    conf.register_group(own)
    conf.register_opts(coordination_opts, group=own)


def list_opts():
    return {coordination_group: coordination_opts}
