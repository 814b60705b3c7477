"""``[maintenance]``: taking a host out of service with its guests
live-migrated to the other members of its pool (api-contract §13), and
``[fake_driver]``: what the in-memory ``fake`` driver's hosts have.
"""

from oslo_config import cfg

maintenance_group = cfg.OptGroup(
    'maintenance', title='Host maintenance',
    help='Evacuating a host by live migration before maintenance, and '
         'migrating its guests back afterwards.')

maintenance_opts = [
    cfg.IntOpt('max_concurrent_migrations', default=1, min=1,
               help='Live migrations of one evacuation (or restore) that '
                    'may run at the same time. XenServer copies a '
                    'migrating guest\'s memory over the management '
                    'network, so more than a few at once rarely finishes '
                    'sooner.'),
    cfg.FloatOpt('migration_timeout', default=600.0, min=0.1,
                 help='Seconds one live migration may take. A migration '
                      'still running after that is cancelled and reported '
                      'as a timeout; the guest then runs where the '
                      'hypervisor says it does. The task is checked every '
                      '[xenapi] poll_interval seconds.'),
    cfg.FloatOpt('reboot_timeout', default=600.0, min=0.1,
                 help='Rolling maintenance with host_action "reboot": '
                      'seconds to wait, once the hypervisor has accepted '
                      'the reboot of a host (disabled and empty), until it '
                      'answers again. A host still down after that fails '
                      'the task (HostDidNotComeBack) and stays in '
                      'maintenance. The host is checked every [xenapi] '
                      'poll_interval seconds.'),
    cfg.StrOpt('host_command',
               help='Rolling maintenance with host_action "command": the '
                    'command run for each host while it is in maintenance '
                    '(empty, with no guest), split like a shell would but '
                    'run without one. Its environment has HOST (the compute '
                    'host), HYPERVISOR_URL and AGGREGATE (the aggregate '
                    'id); write $$ for a literal $ in this file, e.g. '
                    '"sh -c \'upgrade $$HOST\'". A non-zero exit fails the '
                    'host; the tail of its output is kept in the host\'s '
                    'message.'),
    cfg.FloatOpt('host_command_timeout', default=1800.0, min=0.1,
                 help='Seconds [maintenance] host_command may run for one '
                      'host; it is killed after that and the host fails.'),
    cfg.IntOpt('task_lease_seconds', default=30, min=2,
               help='Rolling maintenance: how long a task stays claimed by '
                    'a task runner that stopped renewing it. A runner '
                    'renews its claim every third of this; on PostgreSQL, '
                    'MySQL and the file backend the claim also ends at '
                    'once when the runner\'s process dies. For TTL-based '
                    'coordination backends (etcd, Redis, ZooKeeper) this '
                    'is the lease given to them.'),
    cfg.FloatOpt('task_poll_interval', default=2.0, min=0.05,
                 help='Seconds between two looks of a task runner for a '
                      'queued task, or one whose runner is gone.'),
    cfg.BoolOpt('task_runner', default=True,
                help='Whether nova-aggregates-api runs a task runner for '
                     'rolling maintenance in each of its worker processes. '
                     'Turn it off on nodes that should not run tasks; '
                     'another node (or nova-aggregates-manage maintenance '
                     'runner) must then run them.'),
]

fake_driver_group = cfg.OptGroup(
    'fake_driver', title='In-memory test driver',
    help='The hosts of the "fake" compute driver (testing and development '
         'only): every host gets these totals until a test configures it '
         'otherwise.')

fake_driver_opts = [
    cfg.IntOpt('host_memory_mb', default=16384, min=1,
               help='Memory of every fake host, in MiB.'),
    cfg.IntOpt('host_cpus', default=8, min=1,
               help='CPUs of every fake host.'),
    cfg.IntOpt('host_disk_gb', default=500, min=0,
               help='Disk of every fake host, in GiB.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts, as in conf.xenapi: oslo.config keeps
    # overrides on the group object.
    for group, opts in ((maintenance_group, maintenance_opts),
                        (fake_driver_group, fake_driver_opts)):
        own = cfg.OptGroup(group.name, title=group.title, help=group.help)
        conf.register_group(own)
        conf.register_opts(opts, group=own)


def list_opts():
    return {maintenance_group: maintenance_opts,
            fake_driver_group: fake_driver_opts}
