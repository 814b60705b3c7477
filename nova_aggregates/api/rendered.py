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
"""

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
