"""Aggregate bodies, as each surface and microversion renders them."""

from nova_aggregates.api import microversion


def timestamp(value):
    """A stored time as the API writes it (``None`` stays ``None``)."""
    # Naive UTC datetimes: the same text as strftime('%Y-%m-%dT%H:%M:%S.%f'),
    # at a fraction of the cost (a list renders two per aggregate).
    return value.isoformat(timespec='microseconds') if value else None


def aggregate(req, agg, members=True):
    body = {
        'id': agg['id'],
        'name': agg['name'],
        'availability_zone': agg['availability_zone'],
        'created_at': timestamp(agg['created_at']),
        'updated_at': timestamp(agg['updated_at']),
        'deleted_at': None,
        'deleted': False,
    }
    if members:
        body['hosts'] = agg['hosts']
        body['metadata'] = agg['metadata']
    if req.is_legacy():
        # The 2012 extension showed the state; v2.1 clients reject extras.
        body['operational_state'] = agg['operational_state']
    elif req.api_version >= microversion.UUID_IN_AGGREGATES:
        body['uuid'] = agg['uuid']
    return body
