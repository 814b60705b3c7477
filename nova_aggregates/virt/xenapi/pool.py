"""XenServer resource pools behind pool aggregates.

One pool aggregate is one XenServer pool: its first host is the pool
master, the pool's ``name_label`` is the aggregate name and the pool's
``other_config`` carries ``nova_aggregate_id`` so that the pool can be
recognised again when the database and XenServer have to be reconciled.
Every later host joins the master's pool; removing a member ejects it;
the master leaves last, which clears the pool's name and tag.

All XenAPI traffic goes through ``session.SessionManager`` (one logged-in
session per host URL).  What each host *is* -- its XenServer host uuid and
management address -- never changes while it is up, so it is cached per
URL (``HostFacts``) and re-read only after the host was ejected (an eject
re-installs the host's local state).

Calls of a warm ``add_to_pool`` for a later host
    (sessions to the master and the joiner already open, the joiner's uuid
    and the master's address already cached):

    1. ``pool.join(master_address, user, password)`` -- or
       ``pool.join_force`` with ``[xenapi] use_join_force`` -- on the
       JOINER's session: only the joining host can ask to join, and it
       needs the master's management address and credentials.
    2. ``host.get_by_uuid(joiner_uuid)`` on the MASTER's session: proof that
       the join took effect, because a ``pool.join`` that returned success
       is not proof (half-done joins exist).  It is the cheapest proof: one
       call, no record transfer.  xapi creates the joiner's host record on
       the master before ``pool.join`` returns, so the first try normally
       succeeds; while the answer is ``UUID_INVALID`` it is repeated every
       ``[xenapi] poll_interval`` seconds, for at most ``join_timeout``.

    A ``pool.join`` (or ``pool.eject``) whose answer does not come within
    ``call_timeout`` is not a failure yet: it may have been done, so the
    master is asked the same way before the timeout is reported.

    That is 2 calls and no login.  Nothing else is needed: the address and
    the uuid come from the cache, and the joiner's session -- dead once
    its xapi restarts as a member -- is forgotten locally, without a
    ``session.logout`` call.

    A cold call adds, per URL without a session, one
    ``session.login_with_password`` and, per host without cached facts,
    ``session.get_this_host`` + ``host.get_record`` (uuid and address in
    one answer).

Other operations (warm)
    * first host of a pool: ``pool.get_all``, ``pool.set_name_label``,
      ``pool.add_to_other_config`` (3 calls; +2 if a stale tag is present).
    * remove a member: on the master ``host.get_by_uuid``,
      ``host.get_resident_VMs``, ``VM.get_record`` per resident VM (dom0
      included), ``pool.eject``.
    * remove the last host (the master): ``pool.get_all``,
      ``pool.set_name_label(pool, "")``, ``pool.remove_from_other_config``.
    * rename: ``pool.get_all``, ``pool.set_name_label``.
    * pool state: ``pool.get_all``, ``pool.get_record``,
      ``host.get_all_records`` on the master.

Errors: any XenServer Failure becomes ``PoolOperationRefused`` naming the
compute host being changed and the XenServer code; codes this driver
invents (no XenServer equivalent) start with ``NOVA_``.
"""

import contextlib
import dataclasses
import threading
import time
import urllib.parse

from oslo_log import log as logging

from nova_aggregates import constants
from nova_aggregates import exception
from nova_aggregates.virt import driver
from nova_aggregates.virt.xenapi import session as xsession

LOG = logging.getLogger(__name__)

#: Metadata key prefix for a member's XenServer host uuid.
UUID_KEY_PREFIX = constants.XENAPI_HOST_UUID_PREFIX
#: pool.other_config key tagging a XenServer pool with its aggregate id.
POOL_TAG_KEY = 'nova_aggregate_id'

# Driver-made codes, for refusals XenServer itself has no code for.
NO_MASTER = 'NOVA_NO_POOL_MASTER'
UNKNOWN_UUID = 'NOVA_HOST_UUID_UNKNOWN'
JOIN_NOT_CONFIRMED = 'NOVA_POOL_JOIN_NOT_CONFIRMED'

# Join failures that may mean our cached master address is stale.
_MASTER_UNREACHABLE_CODES = frozenset((
    'POOL_JOINING_HOST_CONNECTION_FAILED',
    'POOL_JOINING_HOST_SERVICE_FAILED',
))


def uuid_key(host_name):
    return UUID_KEY_PREFIX + host_name


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """What a XenServer host is; stable while it stays installed."""

    uuid: str
    address: str


class ResourcePool:
    """Pool operations for the xenapi driver (see the module docstring)."""

    def __init__(self, conf, sessions):
        self.conf = conf
        self.sessions = sessions
        self._facts = {}
        self._facts_lock = threading.Lock()

    # -- add ------------------------------------------------------------------

    def add_to_pool(self, pool, host):
        others = [m for m in pool.members if m.name != host.name]
        if pool.master is None and others:
            raise exception.PoolOperationRefused(
                action='add', host=host.name, code=NO_MASTER,
                details='aggregate %s has hosts but no recorded pool master'
                        % pool.aggregate_id)
        if pool.master is None or pool.master == host.name:
            return self._form(pool, host)
        return self._join(pool, host)

    def _form(self, pool, host):
        """The first host becomes master of the aggregate's pool."""
        url = self._url(host)
        with self._refusals('add', host.name):
            facts = self._facts_of(host)
            pool_ref = self._pool_ref(host)
            self._call(url, host.name, 'pool.set_name_label', pool_ref,
                       pool.name)
            self._tag(host, pool_ref, str(pool.aggregate_id))
        return driver.PoolChange(set_metadata={
            constants.MASTER: host.name,
            uuid_key(host.name): facts.uuid,
        })

    def _join(self, pool, host):
        """A later host joins the master's pool; verified on the master."""
        master = self._master(pool, 'add', host.name)
        master_url, url = self._url(master), self._url(host)
        opts = self.conf.xenapi
        method = 'pool.join_force' if opts.use_join_force else 'pool.join'
        with self._refusals('add', host.name):
            master_facts = self._facts_of(master)
            facts = self._facts_of(host)
            try:
                self._call(url, host.name, method, master_facts.address,
                           opts.connection_username,
                           opts.connection_password)
            except xsession.XenAPIFailure as failure:
                if failure.code in _MASTER_UNREACHABLE_CODES:
                    # Re-read the master's address on the next attempt.
                    self._forget_facts(master_url)
                raise
            except exception.HypervisorTimeout:
                # No answer is not a refusal: the join may be done or still
                # under way, and only the master can tell.
                if not self._await_membership(master, facts.uuid, True):
                    raise
            # The joiner's xapi restarts as a member: its session is dead.
            self.sessions.drop(url)
            if not self._await_membership(master, facts.uuid, True):
                raise exception.PoolOperationRefused(
                    action='add', host=host.name, code=JOIN_NOT_CONFIRMED,
                    details='pool.join returned success but master %s did '
                            'not list host %s within %s seconds'
                            % (master.name, facts.uuid,
                               opts.join_timeout))
        return driver.PoolChange(set_metadata={uuid_key(host.name): facts.uuid})

    def _await_membership(self, master, uuid, member):
        """Poll the master until it lists ``uuid`` as a pool member (or, with
        ``member`` False, no longer lists it); False after join_timeout."""
        opts = self.conf.xenapi
        url = self._url(master)
        deadline = time.monotonic() + opts.join_timeout
        while True:
            try:
                self._call(url, master.name, 'host.get_by_uuid', uuid)
                found = True
            except xsession.XenAPIFailure as failure:
                if failure.code != 'UUID_INVALID':
                    raise
                found = False
            if found == member:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(opts.poll_interval)

    # -- remove ---------------------------------------------------------------

    def remove_from_pool(self, pool, host):
        if host.name == pool.master:
            return self._dissolve(pool, host)
        return self._eject(pool, host)

    def _dissolve(self, pool, host):
        """The master leaves alone: clear the pool's name and tag."""
        others = [m.name for m in pool.members if m.name != host.name]
        if others:
            # The manager refuses this first; never eject a busy master.
            raise exception.PoolMasterNotAlone(
                host=host.name, aggregate_id=pool.aggregate_id,
                members=', '.join(others))
        url = self._url(host)
        with self._refusals('remove', host.name):
            pool_ref = self._pool_ref(host)
            self._call(url, host.name, 'pool.set_name_label', pool_ref, '')
            self._call(url, host.name, 'pool.remove_from_other_config',
                       pool_ref, POOL_TAG_KEY)
        return driver.PoolChange(
            remove_metadata=(constants.MASTER, uuid_key(host.name)))

    def _eject(self, pool, host):
        """Eject a member, on the master, unless it runs guests."""
        master = self._master(pool, 'remove', host.name)
        master_url = self._url(master)
        change = driver.PoolChange(remove_metadata=(uuid_key(host.name),))
        uuid = pool.metadata.get(uuid_key(host.name))
        if uuid is None and host.hypervisor_url:
            facts = self._cached_facts(host.hypervisor_url)
            uuid = facts.uuid if facts else None
        if uuid is None:
            raise exception.PoolOperationRefused(
                action='remove', host=host.name, code=UNKNOWN_UUID,
                details='no %s metadata for it' % uuid_key(host.name))
        with self._refusals('remove', host.name):
            try:
                host_ref = self._call(master_url, master.name,
                                      'host.get_by_uuid', uuid)
            except xsession.XenAPIFailure as failure:
                if failure.code != 'UUID_INVALID':
                    raise
                # Already out of the pool (e.g. a retry after a failure
                # that happened after the eject): the goal is reached.
                LOG.warning('Host %s (%s) is not a member of the pool of '
                            '%s any more; nothing to eject.',
                            host.name, uuid, master.name)
                return change
            guests = self._count_guests(master, host_ref)
            if guests:
                # Checked first because an eject wipes the host.
                raise exception.HostHasGuests(
                    host=host.name, aggregate_id=pool.aggregate_id,
                    count=guests)
            try:
                self._call(master_url, master.name, 'pool.eject', host_ref)
            except exception.HypervisorTimeout:
                # The eject may be done or still under way; the master
                # knows.
                if not self._await_membership(master, uuid, False):
                    raise
        # The ejected host reboots with fresh local state.
        if host.hypervisor_url:
            self.sessions.drop(host.hypervisor_url)
            self._forget_facts(host.hypervisor_url)
        return change

    def _count_guests(self, master, host_ref):
        """Resident VMs that would stop an eject: not dom0, not Halted."""
        url = self._url(master)
        count = 0
        for vm_ref in self._call(url, master.name, 'host.get_resident_VMs',
                                 host_ref):
            try:
                record = self._call(url, master.name, 'VM.get_record',
                                    vm_ref)
            except xsession.XenAPIFailure as failure:
                if failure.code == 'HANDLE_INVALID':
                    continue  # the VM went away meanwhile
                raise
            if record.get('is_control_domain'):
                continue
            if record.get('power_state') != 'Halted':
                count += 1
        return count

    # -- rename ---------------------------------------------------------------

    def rename_pool(self, pool, new_name):
        if pool.master is None:
            return  # no pool formed yet; the name is set on the first add
        master = self._master(pool, 'rename the pool of', pool.master)
        with self._refusals('rename the pool of', master.name):
            pool_ref = self._pool_ref(master)
            self._call(self._url(master), master.name, 'pool.set_name_label',
                       pool_ref, new_name)

    # -- state ----------------------------------------------------------------

    def get_pool_state(self, pool):
        """Read the real pool; None if no host of the pool could tell."""
        if not pool.members:
            return driver.PoolState(master=None, members=frozenset())
        # The recorded master first, then every member: if the master is
        # gone, a member's HOST_IS_SLAVE answer names the real master.
        candidates = sorted(pool.members, key=lambda m: m.name != pool.master)
        seen = set()
        unsure = False
        for candidate in candidates:
            try:
                view = self._read_pool(pool, candidate, seen)
            except (xsession.XenAPIFailure, exception.HypervisorUnreachable,
                    exception.HypervisorTimeout) as exc:
                LOG.info('Cannot read the pool of aggregate %s through %s: '
                         '%s', pool.aggregate_id, candidate.name, exc)
                unsure = True
                continue
            if view is not None:
                return self._state_from(pool, view)
        if unsure:
            return None
        # Every host answered and none is in a pool tagged with this
        # aggregate: XenServer has no pool for it.
        return driver.PoolState(master=None, members=frozenset())

    def _read_pool(self, pool, host, seen):
        """(master uuid, {uuid: address}) of ``host``'s pool if it is ours.

        Follows one HOST_IS_SLAVE redirect to the real master.  Returns None
        when the pool is not tagged with this aggregate or was read before.
        """
        url = self._url(host)
        try:
            return self._read_pool_at(pool, url, host.name, seen)
        except xsession.XenAPIFailure as failure:
            if failure.code != 'HOST_IS_SLAVE' or len(failure.details) < 2:
                raise
            master_url, name = self._url_for_address(pool, failure.details[1],
                                                     url)
            return self._read_pool_at(pool, master_url, name or host.name,
                                      seen)

    def _read_pool_at(self, pool, url, name, seen):
        if url in seen:
            return None
        seen.add(url)
        pool_ref = self._call(url, name, 'pool.get_all')[0]
        record = self._call(url, name, 'pool.get_record', pool_ref)
        tag = (record.get('other_config') or {}).get(POOL_TAG_KEY)
        if tag != str(pool.aggregate_id):
            return None
        hosts = self._call(url, name, 'host.get_all_records')
        master = hosts.get(record.get('master'), {}).get('uuid')
        addresses = {rec['uuid']: rec.get('address') for rec in hosts.values()}
        return master, addresses

    def _state_from(self, pool, view):
        master_uuid, addresses = view
        names = {}  # uuid -> compute host name
        for key, value in pool.metadata.items():
            if key.startswith(UUID_KEY_PREFIX) and value in addresses:
                names[value] = key[len(UUID_KEY_PREFIX):]
        for member in pool.members:
            if member.name in names.values() or not member.hypervisor_url:
                continue
            uuid = self._identify(member, addresses)
            if uuid is not None and uuid not in names:
                names[uuid] = member.name
        for uuid in addresses.keys() - names.keys():
            LOG.warning('XenServer host %s in the pool of aggregate %s is '
                        'not a known compute host.', uuid, pool.aggregate_id)
        return driver.PoolState(
            master=names.get(master_uuid),
            members=frozenset(names.values()),
            metadata={uuid_key(name): uuid for uuid, name in names.items()})

    def _identify(self, member, addresses):
        """The uuid of ``member`` among ``addresses`` keys, or None."""
        url = member.hypervisor_url
        facts = self._cached_facts(url)
        if facts is not None:
            if facts.uuid in addresses:
                return facts.uuid
            wanted = facts.address
        else:
            wanted = urllib.parse.urlsplit(url).hostname
        for uuid, address in addresses.items():
            if address and address == wanted:
                return uuid
        if facts is not None:
            return None
        # Last resort: ask the host itself.  A member cannot answer
        # (HOST_IS_SLAVE); a standalone host can, and is then not a member.
        try:
            facts = self._facts_of(member)
        except (xsession.XenAPIFailure, exception.HypervisorUnreachable,
                exception.HypervisorTimeout) as exc:
            LOG.info('Cannot identify %s: %s', member.name, exc)
            return None
        return facts.uuid if facts.uuid in addresses else None

    # -- helpers --------------------------------------------------------------

    def _call(self, url, host_name, method, *args):
        return self.sessions.call(url, host_name, method, *args)

    @staticmethod
    def _url(host):
        if not host.hypervisor_url:
            raise exception.HypervisorUnreachable(
                host=host.name, reason='no hypervisor URL is registered')
        return host.hypervisor_url

    @staticmethod
    def _master(pool, action, host_name):
        master = pool.member(pool.master) if pool.master else None
        if master is None:
            raise exception.PoolOperationRefused(
                action=action, host=host_name, code=NO_MASTER,
                details='aggregate %s records master %r, which is not one '
                        'of its hosts' % (pool.aggregate_id, pool.master))
        return master

    def _pool_ref(self, host):
        # A host is in exactly one pool; the ref changes after a join or an
        # eject, so it is not cached.
        return self._call(self._url(host), host.name, 'pool.get_all')[0]

    def _tag(self, host, pool_ref, value):
        """Set the aggregate tag; add_to_* refuses to overwrite a key."""
        url = self._url(host)
        try:
            self._call(url, host.name, 'pool.add_to_other_config', pool_ref,
                       POOL_TAG_KEY, value)
        except xsession.XenAPIFailure as failure:
            if failure.code != 'MAP_DUPLICATE_KEY':
                raise
            self._call(url, host.name, 'pool.remove_from_other_config',
                       pool_ref, POOL_TAG_KEY)
            self._call(url, host.name, 'pool.add_to_other_config', pool_ref,
                       POOL_TAG_KEY, value)

    def _facts_of(self, host):
        """Cached uuid/address of ``host``; read through its own session."""
        url = self._url(host)
        facts = self._cached_facts(url)
        if facts is None:
            host_ref = self._call(url, host.name, 'session.get_this_host',
                                  xsession.THIS_SESSION)
            record = self._call(url, host.name, 'host.get_record', host_ref)
            facts = HostFacts(uuid=record['uuid'], address=record['address'])
            with self._facts_lock:
                self._facts[url] = facts
        return facts

    def _cached_facts(self, url):
        with self._facts_lock:
            return self._facts.get(url)

    def _forget_facts(self, url):
        with self._facts_lock:
            self._facts.pop(url, None)

    def _url_for_address(self, pool, address, fallback_url):
        """(URL, host name) of the pool member with management ``address``.

        Falls back to ``fallback_url`` with its host part replaced.
        """
        for member in pool.members:
            url = member.hypervisor_url
            if not url:
                continue
            facts = self._cached_facts(url)
            known = facts.address if facts else None
            if address in (known, urllib.parse.urlsplit(url).hostname):
                return url, member.name
        parts = urllib.parse.urlsplit(fallback_url)
        netloc = address
        if parts.port is not None:
            netloc = '%s:%s' % (address, parts.port)
        return parts._replace(netloc=netloc).geturl(), None

    @contextlib.contextmanager
    def _refusals(self, action, host_name):
        """Turn a XenServer Failure into PoolOperationRefused."""
        try:
            yield
        except xsession.XenAPIFailure as failure:
            details = failure.text
            where = '(%s on %s)' % (failure.method, failure.host)
            raise exception.PoolOperationRefused(
                action=action, host=host_name, code=failure.code,
                details=('%s %s' % (details, where)).strip()) from failure
