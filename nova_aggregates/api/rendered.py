"""Aggregates as JSON, kept by each process for the next request that
shows them unchanged.

A rendering is kept by aggregate id and representation, with its version:
the version changes whenever anything the aggregate shows does (in the
database, whichever process or node changed it), so a kept rendering is
never stale, only unused once the aggregate has changed; the
representation (``conditional.representation``) tells the surfaces and
microversions apart.  A list of unchanged aggregates is then one read of
their ids and versions and a join of bytes, instead of reading, building
and encoding every aggregate again (at 10,000 aggregates, a list costs
about a tenth).  Bounded: past ``LIMIT`` renderings the lot is dropped
(of one representation) and refilled by the next reads.

The last whole list of each representation is kept too, with the list's
version: while no aggregate has changed since, a list is one read of one
row and the bytes it was.
"""

from nova_aggregates.api import conditional
from nova_aggregates.api.views import aggregates as views
from nova_aggregates.api import wsgi

#: Renderings kept per process (a few hundred bytes each).
LIMIT = 100000


class Renderings:
    """Per representation, aggregate id -> (version, JSON): the latest
    rendering kept of each aggregate replaces the one before."""

    def __init__(self):
        self._tables = {}

    def table(self, representation):
        """``{aggregate id: (version, JSON)}`` of ``representation``, for
        looking many up at once."""
        return self._tables.setdefault(representation, {})

    def get(self, aggregate_id, version, representation):
        entry = self.table(representation).get(aggregate_id)
        if entry is not None and entry[0] == version:
            return entry[1]
        return None

    def keep(self, aggregate_id, version, representation, encoded):
        table = self.table(representation)
        if len(table) >= LIMIT and aggregate_id not in table:
            # Cheaper than tracking use; the next reads refill it.
            table.clear()
        table[aggregate_id] = (version, encoded)


class RenderedAggregates:
    """Aggregates as JSON for the handlers of os-aggregates: kept ones
    when unchanged, the others read through the manager (and kept)."""

    def __init__(self, manager):
        self.manager = manager
        self.kept = Renderings()
        #: representation -> (list version, JSON) of the last whole list.
        self.kept_lists = {}

    def _render(self, req, agg, representation):
        encoded = wsgi.encode_json(views.aggregate(req, agg))
        self.kept.keep(agg['id'], agg['version'], representation, encoded)
        return encoded

    def aggregate(self, req, aggregate_id):
        """``(version, JSON)`` of the aggregate as ``req`` shows it: its
        version read, and the aggregate too unless kept at that version."""
        representation = conditional.representation(req)
        version, agg = self.manager.read_aggregate(
            req.context, aggregate_id, lambda version: self.kept.get(
                aggregate_id, version, representation) is not None)
        encoded = None if agg is not None else self.kept.get(
            aggregate_id, version, representation)
        if encoded is None:
            if agg is None:
                # Dropped from the renderings since (past their limit).
                agg = self.manager.get_aggregate(req.context, aggregate_id)
            version = agg['version']
            encoded = self._render(req, agg, representation)
        return version, encoded

    def listing(self, req):
        """``(version, JSON)`` of the whole list as ``req`` shows it, or
        None where the store tells versions only by reading the aggregates.

        The list's version first (one read of one row): while it is the
        one the last list was made at, that list is still the list (the
        version changes with any change, in the same transaction).  Else
        every aggregate's id and version, and the list made of the kept
        renderings and the aggregates read (``_joined``)."""
        representation = conditional.representation(req)
        version = self.manager.aggregates_version(req.context)
        if version is None:
            return None
        kept = self.kept_lists.get(representation)
        if kept is not None and kept[0] == version:
            return kept
        versions = self.manager.aggregate_versions(req.context)
        if versions is None:
            return None
        version, versions = versions
        listed = self.kept_lists[representation] = (
            version, self._joined(req, versions, representation))
        return listed

    def _joined(self, req, versions, representation):
        """The JSON list of the aggregates of ``versions`` (``[(id,
        version), ...]``): those kept at their version as kept, the others
        read (maybe newer than listed: then shown as read, and the list's
        version, read before them, is already past the one kept with this
        list; gone since: left out)."""
        kept = self.kept.table(representation)
        parts = [entry[1] if (entry := kept.get(aggregate_id)) is not None
                 and entry[0] == agg_version else None
                 for aggregate_id, agg_version in versions]
        missing = [aggregate_id for (aggregate_id, _), part
                   in zip(versions, parts) if part is None]
        if missing:
            fresh = {agg['id']: self._render(req, agg, representation)
                     for agg in self.manager.get_aggregates(req.context,
                                                            missing)}
            parts = [part or fresh[aggregate_id]
                     for (aggregate_id, _), part in zip(versions, parts)
                     if part or aggregate_id in fresh]
        return b'{"aggregates": [' + b', '.join(parts) + b']}'
