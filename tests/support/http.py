"""One small HTTP client for the real servers the tests and benchmarks
start: a request on a new connection, never an exception for an HTTP
status."""

import http.client
import json

ADMIN = 'admin:admin'


class Response:
    """Status, headers (a dict, names as the server sent them) and body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def fault(self):
        """``(name, code, message)`` of a JSON fault body."""
        body = self.json()
        (name, inner), = body.items()
        return name, inner['code'], inner['message']

    def __repr__(self):
        return '<%d %r>' % (self.status, self.body[:300])


def request(port, method, path, body=None, token=ADMIN, headers=None,
            timeout=30, host='127.0.0.1'):
    """One request on a new connection to ``host:port``.

    ``body``: bytes as they are, anything else is sent as JSON.  ``token``
    goes in ``X-Auth-Token`` (None: no token).  Transport errors (refused,
    cut, timed out) raise ``OSError``; an HTTP status never raises.
    """
    all_headers = {}
    if token is not None:
        all_headers['X-Auth-Token'] = token
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        all_headers['Content-Type'] = 'application/json'
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return Response(response.status, dict(response.getheaders()),
                        response.read())
    finally:
        conn.close()


def answers(port, path='/', timeout=2, status=200):
    """Does a server answer ``GET path`` on ``port`` (with ``status``; None:
    any status)?  False while nothing listens."""
    try:
        response = request(port, 'GET', path, token=None, timeout=timeout)
    except (OSError, http.client.HTTPException):
        return False
    return status is None or response.status == status


def chunked(body, size=65536):
    """``body`` in HTTP/1.1 chunked transfer coding, ``size`` bytes a
    chunk."""
    pieces = []
    for offset in range(0, len(body), size):
        piece = body[offset:offset + size]
        pieces.append(b'%x\r\n%s\r\n' % (len(piece), piece))
    return b''.join(pieces) + b'0\r\n\r\n'
