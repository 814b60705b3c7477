"""Conditional requests on aggregates (RFC 9110, section 13), beyond Nova.

Show and list send an ``ETag``: the version of what they show (the
manager's, which changes whenever anything they show does, on every backend
and across processes) and the representation it is shown in, since one
version renders differently per surface, microversion and format:
``"<version>-<variant>"``.  Changes answer with the ETag of the aggregate
they leave.

* ``If-None-Match`` on show and list: 304, no body, when a tag matches
  (weak comparison, ``*`` matches any).
* ``If-Match`` on update, delete and the actions: the change is made only
  while the aggregate still has a version named (strong comparison, any
  representation of it: a tag read on one surface is good on the other);
  412 otherwise; ``*`` asks only that the aggregate exist.

A request with neither header is served as without this module.
"""

import webob

from nova_aggregates.api import microversion

#: Parsed If-Match / If-None-Match: ``*``.
ANY = object()


def representation(req):
    """The letter of the representation ``req`` is answered in."""
    if req.is_legacy():
        return 'x' if req.wants_xml else 'l'
    return v21_representation(req.api_version)


def v21_representation(api_version):
    """The letter of the v2.1 surface's representation at ``api_version``
    (the version whose semantics serve the request)."""
    return 'u' if api_version >= microversion.UUID_IN_AGGREGATES else 'v'


def etag(req, version):
    """The ETag of ``version`` as ``req`` is answered."""
    return tag(version, representation(req))


def tag(version, letter):
    """The ETag of ``version`` in the representation ``letter``."""
    return '"%s-%s"' % (version, letter)


def matches(header, current):
    """Whether an If-None-Match ``header`` names ``current`` (an ETag,
    quotes included): weak comparison, ``*`` matches any."""
    if header == current:
        # A poller sending back the one tag it was given: nothing to parse.
        return True
    tags = _entity_tags(header)
    return tags is ANY or current[1:-1] in [opaque for _, opaque in tags]


def not_modified_app(current):
    """The 304 for the ETag ``current`` as a bare WSGI application (for
    ``router.APIRouter``'s answer to polls, which builds no webob
    objects)."""
    headers = [('ETag', current)]

    def app(environ, start_response):
        start_response('304 Not Modified', headers)
        return []
    return app


def _entity_tags(header):
    """The entity tags of an If-Match/If-None-Match header: ANY, or a list
    of ``(weak, opaque-tag)``; what is not a tag is skipped."""
    if header.strip() == '*':
        return ANY
    tags = []
    for item in header.split(','):
        item = item.strip()
        weak = item.startswith('W/')
        if weak:
            item = item[2:]
        if len(item) >= 2 and item[0] == item[-1] == '"':
            tags.append((weak, item[1:-1]))
    return tags


def wants_not_modified(req):
    return 'If-None-Match' in req.headers


def not_modified(req, version):
    """The 304 answer if ``req``'s If-None-Match names ``version`` in this
    representation, else None (also when ``version`` is None: not known
    without reading)."""
    header = req.headers.get('If-None-Match')
    if header is None or version is None:
        return None
    current = etag(req, version)
    if not matches(header, current):
        return None
    response = webob.Response(status=304, content_type=None)
    response.headers['ETag'] = current
    return response


def expected_versions(req):
    """The versions an If-Match names (a tuple, maybe empty: then nothing
    matches), or None without one or for ``*``."""
    header = req.headers.get('If-Match')
    if header is None:
        return None
    tags = _entity_tags(header)
    if tags is ANY:
        return None
    # Strong comparison: a weak tag never matches.
    return tuple(opaque.rsplit('-', 1)[0] for weak, opaque in tags
                 if not weak and '-' in opaque)
