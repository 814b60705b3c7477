"""Tables.  Queries live in the other modules of ``db/``; these classes
only declare shape.

Strings that must compare exactly (aggregate names, host names, metadata
keys and values) are ``ExactString``: code point by code point on every
backend, so case, accents and trailing spaces all matter.  SQLite and
PostgreSQL compare that way already; MySQL/MariaDB get a binary collation
that does not pad with spaces (their default collation folds case and
accents, and even ``utf8mb4_bin`` ignores trailing spaces).
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy import orm
from taskflow.persistence.backends.sqlalchemy import tables as \
    taskflow_schema

from nova_aggregates import constants


def exact_collation(dialect):
    """The utf8mb4 collation of MySQL/MariaDB that compares exactly:
    binary and NO PAD (MariaDB >= 10.2, MySQL >= 8.0).  MySQL 5.7 has none
    that does not pad; it keeps utf8mb4_bin (trailing spaces ignored)."""
    if getattr(dialect, 'is_mariadb', False):
        return 'utf8mb4_nopad_bin'
    if (dialect.server_version_info or (8, 0)) >= (8, 0):
        return 'utf8mb4_0900_bin'
    return 'utf8mb4_bin'


class ExactString(sa.types.TypeDecorator):
    """VARCHAR that compares exactly on every backend (see above)."""

    impl = sa.String
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ('mysql', 'mariadb'):
            return dialect.type_descriptor(mysql.VARCHAR(
                self.impl.length, charset='utf8mb4',
                collation=exact_collation(dialect)))
        return dialect.type_descriptor(sa.String(self.impl.length))


def _name(length=255):
    return ExactString(length)


def _timestamp():
    # Microseconds everywhere: MySQL's DATETIME drops them unless fsp=6.
    return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql', 'mariadb')


_TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


class Base(orm.DeclarativeBase):
    pass


class Aggregate(Base):
    __tablename__ = 'aggregates'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uniq_aggregates0name'),
        sa.UniqueConstraint('uuid', name='uniq_aggregates0uuid'),
        # add_host asks which pool is adding a host right now.
        sa.Index('aggregates_pending_host_idx', 'pending_host'),
        # Ids of deleted aggregates are never handed out again.
        dict(_TABLE_ARGS, sqlite_autoincrement=True),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    name = sa.Column(_name(), nullable=False)
    # created | changing | active | error (nova_aggregates/constants.py)
    operational_state = sa.Column(sa.String(16), nullable=False,
                                  default=constants.CREATED)
    last_error = sa.Column(sa.Text, nullable=True)
    # The host a pool operation in flight is about to add or remove, and who
    # runs it: enough to reconcile after a crash.
    pending_host = sa.Column(_name(), nullable=True)
    task_owner = sa.Column(sa.String(255), nullable=True)
    task_started_at = sa.Column(_timestamp(), nullable=True)
    created_at = sa.Column(_timestamp(), nullable=False)
    updated_at = sa.Column(_timestamp(), nullable=True)
    # Goes up with every change to what the aggregate shows (its row, hosts
    # or metadata), once per transaction: the ETag of the aggregate.
    generation = sa.Column(sa.Integer, nullable=False, default=1,
                           server_default='1')


class AggregateChanges(Base):
    """One row: a counter that goes up once per transaction changing any
    aggregate (created, changed or deleted), bumped at commit: the ETag of
    the aggregate list."""
    __tablename__ = 'aggregate_changes'
    __table_args__ = (_TABLE_ARGS,)

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    counter = sa.Column(sa.BigInteger, nullable=False)


class AggregateHost(Base):
    __tablename__ = 'aggregate_hosts'
    __table_args__ = (
        sa.UniqueConstraint('aggregate_id', 'host',
                            name='uniq_aggregate_hosts0aggregate_id0host'),
        sa.Index('aggregate_hosts_host_idx', 'host'),
        _TABLE_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    aggregate_id = sa.Column(
        sa.Integer, sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
        nullable=False)
    host = sa.Column(_name(), sa.ForeignKey('compute_hosts.name'),
                     nullable=False)
    created_at = sa.Column(_timestamp(), nullable=False)


class AggregateMetadata(Base):
    __tablename__ = 'aggregate_metadata'
    __table_args__ = (
        sa.UniqueConstraint('aggregate_id', 'key',
                            name='uniq_aggregate_metadata0aggregate_id0key'),
        _TABLE_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    aggregate_id = sa.Column(
        sa.Integer, sa.ForeignKey('aggregates.id', ondelete='CASCADE'),
        nullable=False)
    key = sa.Column(_name(), nullable=False)
    value = sa.Column(_name(), nullable=False)


class ComputeHost(Base):
    __tablename__ = 'compute_hosts'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uniq_compute_hosts0name'),
        _TABLE_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    name = sa.Column(_name(), nullable=False)
    # The zone the host was registered with: its zone while no aggregate
    # of it carries one (doc/api-ref.md, "Host inventory").
    zone = sa.Column(sa.String(255), nullable=True)
    hypervisor_url = sa.Column(sa.String(1024), nullable=True)
    # enabled | disabled (nova_aggregates/constants.py): a disabled host is
    # no migration target and joins no aggregate.
    status = sa.Column(sa.String(16), nullable=False,
                       default=constants.HOST_ENABLED,
                       server_default=constants.HOST_ENABLED)
    disabled_reason = sa.Column(sa.String(255), nullable=True)
    # off_maintenance | on_maintenance
    maintenance = sa.Column(sa.String(16), nullable=False,
                            default=constants.OFF_MAINTENANCE,
                            server_default=constants.OFF_MAINTENANCE)
    # Who is changing the host's status right now (a host in no pool
    # aggregate: the pool's own lease covers the others).
    task_owner = sa.Column(sa.String(255), nullable=True)
    task_started_at = sa.Column(_timestamp(), nullable=True)
    created_at = sa.Column(_timestamp(), nullable=False)
    updated_at = sa.Column(_timestamp(), nullable=True)


class GuestOrigin(Base):
    """A guest the last evacuation of a host moved away, to move back when
    the host leaves maintenance."""

    __tablename__ = 'guest_origins'
    __table_args__ = (
        sa.Index('guest_origins_origin_idx', 'origin'),
        _TABLE_ARGS,
    )

    vm_uuid = sa.Column(sa.String(36), primary_key=True)
    vm_name = sa.Column(sa.String(255), nullable=True)
    memory = sa.Column(sa.BigInteger, nullable=False)
    # The compute host it ran on, and the one it was moved to.
    origin = sa.Column(_name(), nullable=False)
    moved_to = sa.Column(_name(), nullable=False)
    moved_at = sa.Column(_timestamp(), nullable=False)


class RollingMaintenanceTask(Base):
    """A rolling maintenance task of a pool aggregate (api-contract §14),
    and the claim of the task runner executing it."""

    __tablename__ = 'rolling_maintenance_tasks'
    __table_args__ = (
        sa.Index('rolling_maintenance_tasks_aggregate_idx', 'aggregate_id'),
        sa.Index('rolling_maintenance_tasks_state_idx', 'state'),
        _TABLE_ARGS,
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    # No foreign key: a finished task outlives its aggregate.
    aggregate_id = sa.Column(sa.Integer, nullable=False)
    # queued | running | succeeded | failed | cancelling | cancelled
    state = sa.Column(sa.String(16), nullable=False)
    # reboot | command | none
    host_action = sa.Column(sa.String(16), nullable=False)
    # The coordination member of the runner executing it, and when that
    # runner last renewed its claim.
    owner = sa.Column(sa.String(255), nullable=True)
    heartbeat_at = sa.Column(_timestamp(), nullable=True)
    # The TaskFlow logbook and flow detail of the run in progress.
    logbook_uuid = sa.Column(sa.String(64), nullable=True)
    flow_uuid = sa.Column(sa.String(64), nullable=True)
    created_at = sa.Column(_timestamp(), nullable=False)
    updated_at = sa.Column(_timestamp(), nullable=True)


class RollingMaintenanceHost(Base):
    """One host of a rolling maintenance task, in the task's order."""

    __tablename__ = 'rolling_maintenance_hosts'
    __table_args__ = (_TABLE_ARGS,)

    task_id = sa.Column(sa.Integer, sa.ForeignKey(
        'rolling_maintenance_tasks.id', ondelete='CASCADE'),
        primary_key=True)
    position = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    host = sa.Column(_name(), nullable=False)
    # pending | evacuating | acting | restoring | done | failed
    state = sa.Column(sa.String(16), nullable=False)
    # The last step begun (evacuating | acting | restoring): where a failed
    # host resumes.
    step = sa.Column(sa.String(16), nullable=True)
    started_at = sa.Column(_timestamp(), nullable=True)
    finished_at = sa.Column(_timestamp(), nullable=True)
    guests_moved = sa.Column(sa.Integer, nullable=False, default=0,
                             server_default='0')
    message = sa.Column(sa.Text, nullable=True)


class PlacementMirrorStep(Base):
    """A membership of an aggregate on a host's resource provider that
    Placement may not show yet: recorded in the transaction that changed
    the membership, deleted once Placement matches (api-contract §16).

    What Placement must show is read from the aggregate when the step runs;
    ``version`` tells whether the membership changed again meanwhile.
    """

    __tablename__ = 'placement_mirror_steps'
    __table_args__ = (
        sa.Index('placement_mirror_steps_due_idx', 'next_attempt_at'),
        _TABLE_ARGS,
    )

    # No foreign key: a deleted aggregate's uuid must still leave Placement.
    aggregate_uuid = sa.Column(sa.String(36), primary_key=True)
    host = sa.Column(_name(), primary_key=True)
    aggregate_id = sa.Column(sa.Integer, nullable=False)
    version = sa.Column(sa.Integer, nullable=False, default=1)
    queued_at = sa.Column(_timestamp(), nullable=False)
    next_attempt_at = sa.Column(_timestamp(), nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0,
                         server_default='0')
    last_error = sa.Column(sa.Text, nullable=True)


# TaskFlow's persistence tables (its SQLAlchemy backend), in our schema and
# created by our migrations: TaskFlow's own alembic chain would need the
# default version table, which ours uses.
taskflow_tables = taskflow_schema.fetch(Base.metadata)

# The tables, for the SQLAlchemy Core statements of the query modules.
aggregates = Aggregate.__table__
aggregate_changes = AggregateChanges.__table__
aggregate_hosts = AggregateHost.__table__
aggregate_metadata = AggregateMetadata.__table__
compute_hosts = ComputeHost.__table__
guest_origins = GuestOrigin.__table__
rolling_maintenance_tasks = RollingMaintenanceTask.__table__
rolling_maintenance_hosts = RollingMaintenanceHost.__table__
placement_mirror_steps = PlacementMirrorStep.__table__
