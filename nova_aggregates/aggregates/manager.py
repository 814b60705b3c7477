"""AggregateManager: the rules of host aggregates.

The API calls this class and nothing below it.  It holds no SQL (that is
``db.api``) and no hypervisor calls (that is the driver), only the rules:

* a host's aggregates that carry an availability zone all carry the same one;
* names are unique (the database enforces it), deletes need an empty
  aggregate, set_metadata merges and ``null`` removes;
* pool aggregates change on the hypervisor one operation at a time, each a
  ``pool_operation.PoolOperation`` begun inside the locked transaction that
  checked the request.

Every check runs in the same write transaction as the write it guards, after
``db.lock_aggregate``/``db.lock_hosts`` took the rows it depends on, so two
concurrent requests cannot both pass a check only one may pass.

Every change is announced (``notifications``): ``aggregate.<action>.start``
once the checks passed, ``.end`` once it is done (none after a failure, as
Nova does).  Membership changes are mirrored into Placement
(``placement_mirror``): asked before anything changes, a step recorded with
the change, run after the commit.

Compute host registration is ``compute_hosts.ComputeHosts``; crash recovery
of pool operations is ``recovery.Recovery``.
"""

import uuid as uuid_lib

from nova_aggregates import constants
from nova_aggregates.aggregates import compute_hosts
from nova_aggregates.aggregates import placement_mirror
from nova_aggregates.aggregates import pool_operation
from nova_aggregates.db import api as db
from nova_aggregates import exception
from nova_aggregates import notifications
from nova_aggregates.virt import driver as virt_driver

_UNSET = object()


class AggregateManager:

    def __init__(self, conf, driver=None, inventory=None, notifier=None,
                 mirror=None):
        self.conf = conf
        self.notifier = notifier if notifier is not None else \
            notifications.Notifier()
        #: Placement mirroring (``placement_mirror.mirror``).
        self.placement = mirror if mirror is not None else \
            placement_mirror.mirror(conf)
        #: Where joining hosts must be known (``compute_hosts.inventory``).
        self.inventory = inventory if inventory is not None else \
            compute_hosts.LocalInventory()
        self.driver = driver if driver is not None else \
            virt_driver.load_driver(conf)
        self.pools = pool_operation.Pools(self.driver, self.placement)

    # -- presentation -------------------------------------------------------

    @staticmethod
    def _present(agg):
        """The aggregate as callers see it: bookkeeping of pool aggregates is
        visible in metadata; internal task columns are not."""
        metadata = dict(agg['metadata'])
        if pool_operation.is_pool(agg):
            metadata[constants.STATE_KEY] = agg['operational_state']
            if agg['last_error']:
                metadata[constants.LAST_ERROR] = agg['last_error']
        return {
            'id': agg['id'],
            'uuid': agg['uuid'],
            'name': agg['name'],
            'availability_zone': agg['metadata'].get(constants.AVAILABILITY_ZONE),
            'operational_state': agg['operational_state'],
            'created_at': agg['created_at'],
            'updated_at': agg['updated_at'],
            'hosts': list(agg['hosts']),
            'metadata': metadata,
            # Changes whenever anything above does (ETags).
            'version': db.version_of(agg),
        }

    # -- reads --------------------------------------------------------------

    def list_aggregates(self, context, host=None, availability_zone=None):
        """Every aggregate, or only those that hold ``host`` and (or) are
        in ``availability_zone`` (names and zones compare exactly)."""
        return self._filtered(db.aggregate_get_all(context), host,
                              availability_zone)

    def list_aggregates_versioned(self, context, host=None,
                                  availability_zone=None):
        """``(version, aggregates)``: ``list_aggregates`` and the version of
        the whole list, which changes whenever any aggregate does."""
        version, listed = db.aggregate_list(context)
        return version, self._filtered(listed, host, availability_zone)

    def _filtered(self, listed, host, availability_zone):
        return [self._present(agg) for agg in listed
                if (host is None or host in agg['hosts']) and
                (availability_zone is None or agg['metadata'].get(
                    constants.AVAILABILITY_ZONE) == availability_zone)]

    def get_aggregate(self, context, aggregate_id):
        return self._present(db.aggregate_get(context, aggregate_id))

    def get_aggregates(self, context, ids):
        """The aggregates of ``ids`` that exist, in id order."""
        return [self._present(agg)
                for agg in db.aggregate_get_many(context, ids)]

    def read_aggregate(self, context, aggregate_id, known):
        """``(version, aggregate)``: the version first, and the aggregate
        unless ``known(version)`` says the caller has it already (None
        then); an aggregate read is returned with its own version, read
        with it.  Where the store tells versions only by reading the
        aggregate, it is always read."""
        version = db.aggregate_version(context, aggregate_id)
        if version is not None and known(version):
            return version, None
        agg = self.get_aggregate(context, aggregate_id)
        return agg['version'], agg

    @staticmethod
    def aggregate_versions(context):
        """``(version, [(id, version), ...])``: the list's version and each
        aggregate's, from one read of their keys, or None where the store
        tells versions only by reading the aggregates."""
        return db.aggregate_versions(context)

    @staticmethod
    def aggregate_version(context, aggregate_id):
        """The aggregate's version from one indexed read, or None where the
        store can tell it only by reading the aggregate."""
        return db.aggregate_version(context, aggregate_id)

    @staticmethod
    def aggregates_version(context):
        """The version of the aggregate list from one read, or None where
        the store can tell it only by reading the list."""
        return db.aggregates_version(context)

    # -- create, update, delete ---------------------------------------------

    def create_aggregate(self, context, name, availability_zone=None):
        metadata = {}
        if availability_zone is not None:
            metadata[constants.AVAILABILITY_ZONE] = availability_zone
        if self.conf.pool_aggregates_by_default:
            metadata[constants.POOL_FLAG] = constants.POOL_FLAG_VALUE
        # The uuid is chosen first, as Nova does: create.start names it.
        uuid = str(uuid_lib.uuid4())
        self.notifier.aggregate(context, 'create', 'start', {
            'id': None, 'uuid': uuid, 'name': name, 'hosts': None,
            'metadata': metadata})
        agg = self._present(db.aggregate_create(context, name, metadata,
                                                uuid=uuid))
        self.notifier.aggregate(context, 'create', 'end', agg)
        return agg

    def update_aggregate(self, context, aggregate_id, name=_UNSET,
                         availability_zone=_UNSET, expected_versions=None):
        """``expected_versions``, here and in every change of an aggregate:
        the versions the caller read it at (an If-Match); the change is
        refused (AggregateVersionMismatch) once the aggregate has changed
        since, checked under the lock that makes the change."""
        agg, rename = self._update_in_db(
            context, aggregate_id, name, availability_zone,
            expected_versions)
        if rename is None:
            # Read inside the transaction that wrote it: nothing to re-read.
            agg = self._present(agg)
        else:
            rename.run(self.driver.rename_pool, rename.read_pool(),
                       agg['name'])
            rename.finish()
            agg = self.get_aggregate(context, aggregate_id)
        self.notifier.aggregate(context, 'update_prop', 'end', agg)
        return agg

    def _proposed(self, agg, name, availability_zone):
        """``agg`` with an update applied, as update_prop.start shows it
        (Nova's object carries the change before it is saved)."""
        proposed = self._present(agg)
        if name is not _UNSET:
            proposed['name'] = name
        if availability_zone is not _UNSET:
            proposed['availability_zone'] = availability_zone
            proposed['metadata'][constants.AVAILABILITY_ZONE] = \
                availability_zone
        return proposed

    @db.transaction
    def _update_in_db(self, context, aggregate_id, name, availability_zone,
                      expected_versions):
        agg = db.lock_aggregate(context, aggregate_id, expected_versions)
        self.notifier.aggregate(context, 'update_prop', 'start',
                                self._proposed(agg, name, availability_zone))
        rename = None
        if availability_zone is not _UNSET:
            if not availability_zone:
                raise exception.InvalidAvailabilityZone()
            if agg['operational_state'] == constants.CHANGING:
                # The joining host would escape the zone check.
                raise exception.PoolOperationInProgress(
                    aggregate_id=aggregate_id)
            self._check_zone_change(context, agg, availability_zone)
            db.aggregate_metadata_update(
                context, aggregate_id,
                {constants.AVAILABILITY_ZONE: availability_zone})
            agg['metadata'][constants.AVAILABILITY_ZONE] = availability_zone
        if name is not _UNSET and name != agg['name']:
            pool = pool_operation.is_pool(agg)
            if pool and agg['metadata'].get(constants.MASTER):
                # A formed pool carries the aggregate's name: renaming is a
                # pool operation like any other.
                rename = pool_operation.PoolOperation(
                    self.pools, context, agg, pool_operation.RENAME,
                    undo={'name': agg['name']})
                rename.begin()
            elif pool and agg['operational_state'] == constants.CHANGING:
                # The first host is joining and the pool is being named
                # after the current name.
                raise exception.PoolOperationInProgress(
                    aggregate_id=aggregate_id)
            # The lock's timestamp: the response shows what was stored.
            db.aggregate_update(context, aggregate_id, name=name,
                                updated_at=agg['updated_at'])
            agg['name'] = name
        return agg, rename

    def delete_aggregate(self, context, aggregate_id,
                         expected_versions=None):
        holders = {}
        if self.placement.enabled:
            # Placement may still carry the uuid (hosts removed behind its
            # back): the delete clears it, or changes nothing.
            holders = self.placement.holders(
                db.aggregate_get(context, aggregate_id)['uuid'])
        agg = self._delete_in_db(context, aggregate_id, sorted(holders),
                                 expected_versions)
        self.notifier.aggregate(context, 'delete', 'end', agg)
        self.placement.run(context, agg['uuid'], sorted(holders), holders)

    @db.transaction
    def _delete_in_db(self, context, aggregate_id, holders,
                      expected_versions):
        agg = db.lock_aggregate(context, aggregate_id, expected_versions)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if agg['hosts']:
            raise exception.AggregateNotEmpty(aggregate_id=aggregate_id,
                                              hosts=', '.join(agg['hosts']))
        agg = self._present(agg)
        self.notifier.aggregate(context, 'delete', 'start', agg)
        db.aggregate_delete(context, aggregate_id)
        self.placement.queue(context, agg, holders)
        return agg

    # -- metadata -----------------------------------------------------------

    def _is_reserved(self, key):
        return key in constants.RESERVED_KEYS or key.startswith(
            self.pools.prefixes) or key.startswith(
            constants.PLACEMENT_MIRROR_PREFIX)

    def set_metadata(self, context, aggregate_id, metadata,
                     expected_versions=None):
        agg = self._set_metadata_in_db(context, aggregate_id, metadata,
                                       expected_versions)
        self.notifier.aggregate(context, 'update_metadata', 'end', agg)
        return agg

    @db.transaction
    def _set_metadata_in_db(self, context, aggregate_id, metadata,
                            expected_versions):
        agg = db.lock_aggregate(context, aggregate_id, expected_versions)
        for key in sorted(metadata):
            if self._is_reserved(key):
                raise exception.ReservedMetadataKey(key=key)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if constants.AVAILABILITY_ZONE in metadata:
            zone = metadata[constants.AVAILABILITY_ZONE]
            if not zone:
                raise exception.InvalidAvailabilityZone()
            self._check_zone_change(context, agg, zone)
        if constants.POOL_FLAG in metadata:
            flag = metadata[constants.POOL_FLAG]
            if flag is not None and flag != constants.POOL_FLAG_VALUE:
                raise exception.Invalid(
                    reason='hypervisor_pool can only be "true" (or null to '
                           'remove it), not %r.' % flag)
            if flag != agg['metadata'].get(constants.POOL_FLAG) and agg['hosts']:
                raise exception.PoolFlagLocked(aggregate_id=aggregate_id)
        to_set = {k: v for k, v in metadata.items() if v is not None}
        to_remove = [k for k, v in metadata.items() if v is None]
        merged = dict(agg['metadata'])
        merged.update(to_set)
        for key in to_remove:
            merged.pop(key, None)
        count = sum(1 for key in merged if not self._is_reserved(key))
        limit = self.conf.api.max_aggregate_metadata_items
        if count > limit:
            raise exception.TooManyMetadataItems(
                aggregate_id=aggregate_id, count=count, limit=limit)
        self.notifier.aggregate(context, 'update_metadata', 'start',
                                self._present(agg))
        db.aggregate_metadata_update(context, aggregate_id, to_set, to_remove)
        # The locked row plus the merge is what the database now holds.
        agg['metadata'] = merged
        return self._present(agg)

    # -- availability zones ---------------------------------------------------

    def _check_zone_change(self, context, agg, zone):
        """The aggregate's hosts may not be in another aggregate whose zone
        differs from ``zone``."""
        if not agg['hosts']:
            return
        db.lock_hosts(context, agg['hosts'])
        memberships = db.host_aggregates(context, agg['hosts'])
        for host in agg['hosts']:
            for other in memberships[host]:
                other_zone = other['availability_zone']
                if other['id'] != agg['id'] and other_zone is not None \
                        and other_zone != zone:
                    raise exception.InvalidZoneChange(
                        zone=zone, aggregate_id=agg['id'], host=host,
                        other_aggregate=other['name'], other_zone=other_zone)

    def _check_host_may_join(self, context, agg, host):
        memberships = db.host_aggregates(context, [host])[host]
        zone = agg['metadata'].get(constants.AVAILABILITY_ZONE)
        for other in memberships:
            other_zone = other['availability_zone']
            if zone is not None and other_zone is not None \
                    and other_zone != zone:
                raise exception.HostZoneConflict(
                    host=host, aggregate_id=agg['id'], zone=zone,
                    other_zone=other_zone, other_aggregate=other['name'])
            if pool_operation.is_pool(agg) and other['hypervisor_pool']:
                raise exception.HostInAnotherPool(
                    host=host, other_aggregate=other['name'])

    # -- membership -----------------------------------------------------------

    def add_host(self, context, aggregate_id, host, in_service_only=True,
                 expected_versions=None):
        """Add ``host``; ``in_service_only=False`` lets a disabled or
        in-maintenance host join (crash recovery forming a recorded pool
        again, whose members keep their status)."""
        self.inventory.check_known(context, host)
        providers = self.placement.providers([host])
        agg, operation = self._add_host_begin(context, aggregate_id, host,
                                              in_service_only,
                                              expected_versions)
        return self._membership_changed(context, 'add_host', agg, operation,
                                        host, providers)

    @db.transaction
    def _add_host_begin(self, context, aggregate_id, host, in_service_only,
                        expected_versions):
        agg = db.lock_aggregate(context, aggregate_id, expected_versions)
        host_row = db.lock_hosts(context, [host])[host]
        if host in agg['hosts']:
            raise exception.AggregateHostExists(aggregate_id=aggregate_id,
                                                host=host)
        if in_service_only and \
                host_row['maintenance'] != constants.OFF_MAINTENANCE:
            raise exception.HostNotInService(host=host, why='in maintenance')
        if in_service_only and host_row['status'] != constants.HOST_ENABLED:
            raise exception.HostNotInService(host=host, why='disabled')
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        self._check_host_may_join(context, agg, host)
        self.notifier.aggregate(context, 'add_host', 'start',
                                self._present(agg))
        if not pool_operation.is_pool(agg):
            db.aggregate_host_add(context, aggregate_id, host)
            self.placement.queue(context, agg, [host])
            agg['hosts'].append(host)
            if agg['operational_state'] == constants.CREATED:
                db.aggregate_update(context, aggregate_id,
                                    operational_state=constants.ACTIVE,
                                    updated_at=agg['updated_at'])
                agg['operational_state'] = constants.ACTIVE
            return agg, None
        return agg, self._begin(context, agg, pool_operation.ADD_HOST,
                                host_row)

    def remove_host(self, context, aggregate_id, host,
                    expected_versions=None):
        providers = self.placement.providers([host])
        agg, operation = self._remove_host_begin(context, aggregate_id, host,
                                                 expected_versions)
        return self._membership_changed(context, 'remove_host', agg,
                                        operation, host, providers)

    @db.transaction
    def _remove_host_begin(self, context, aggregate_id, host,
                           expected_versions):
        agg = db.lock_aggregate(context, aggregate_id, expected_versions)
        host_row = db.lock_hosts(context, [host])[host]
        if host not in agg['hosts']:
            raise exception.AggregateHostNotFound(aggregate_id=aggregate_id,
                                                  host=host)
        if agg['operational_state'] == constants.CHANGING:
            raise exception.PoolOperationInProgress(aggregate_id=aggregate_id)
        if not pool_operation.is_pool(agg):
            self.notifier.aggregate(context, 'remove_host', 'start',
                                    self._present(agg))
            db.aggregate_host_remove(context, aggregate_id, host)
            self.placement.queue(context, agg, [host])
            agg['hosts'].remove(host)
            return agg, None
        others = [h for h in agg['hosts'] if h != host]
        if agg['metadata'].get(constants.MASTER) == host and others:
            raise exception.PoolMasterNotAlone(
                host=host, aggregate_id=aggregate_id,
                members=', '.join(others))
        self.notifier.aggregate(context, 'remove_host', 'start',
                                self._present(agg))
        return agg, self._begin(context, agg, pool_operation.REMOVE_HOST,
                                host_row)

    def _membership_changed(self, context, action, agg, operation, host,
                            providers):
        """The rest of an add_host or remove_host of ``host`` begun in the
        database: the pool ``operation`` on the hypervisor (None for a
        logical aggregate, already changed), the Placement mirror step
        (whatever the hypervisor did), the end notification.  Returns the
        aggregate: ``agg`` as the change's transaction left it, or read
        again when more was recorded since (the pool's bookkeeping, a
        mirror step that failed)."""
        joining = action == 'add_host'
        try:
            if operation is not None:
                change = operation.run(
                    self.driver.add_to_pool if joining
                    else self.driver.remove_from_pool,
                    operation.pool, operation.host)
                operation.finish(pool_operation.Change(
                    joined=host if joining else None,
                    left=None if joining else host, bookkeeping=change))
        finally:
            mirrored = self.placement.run(context, agg['uuid'], [host],
                                          providers)
        if operation is not None or not mirrored:
            agg = self.get_aggregate(context, agg['id'])
        else:
            agg = self._present(agg)
        self.notifier.aggregate(context, action, 'end', agg)
        return agg

    def _begin(self, context, agg, kind, host_row):
        """A pool operation of ``kind`` on the host of ``host_row``, begun
        in the caller's transaction, with the pool it changes."""
        operation = pool_operation.PoolOperation(
            self.pools, context, agg, kind, host=virt_driver.ComputeHost(
                name=host_row['name'],
                hypervisor_url=host_row['hypervisor_url']))
        operation.begin()
        operation.read_pool()
        return operation
