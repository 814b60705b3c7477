"""Raw HTTP/1.1 for the server tests: exactly the bytes a client sends, and
all the server answers, with how the connection ended."""

import json
import socket
import time

ADMIN = 'admin:admin'
EOF, RESET, OPEN = 'eof', 'reset', 'open'


class Answer:
    """What came back on one connection: the first response (``status``
    None if there was none) and how the connection ended (``EOF``,
    ``RESET``, or ``OPEN`` when still open at the read timeout)."""

    def __init__(self, data, ended, elapsed):
        self.raw = data
        self.ended = ended
        self.elapsed = elapsed
        self.status = None
        self.headers = {}
        self.body = b''
        end = data.find(b'\r\n\r\n')
        if data.startswith(b'HTTP/1.') and end >= 0:
            lines = data[:end].decode('latin-1').split('\r\n')
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                name, _, value = line.partition(':')
                self.headers[name.strip().lower()] = value.strip()
            length = int(self.headers.get('content-length', '0'))
            self.body = data[end + 4:end + 4 + length]

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return '<%s %s after %.2fs: %r>' % (self.status, self.ended,
                                            self.elapsed, self.raw[:300])


def connect(port, timeout=30):
    return socket.create_connection(('127.0.0.1', port), timeout=timeout)


def head(method, path, headers=(), length=None, chunked=False, close=False,
         token=ADMIN):
    """The request line and headers (``length``: a Content-Length)."""
    lines = ['%s %s HTTP/1.1' % (method, path), 'Host: 127.0.0.1']
    if token:
        lines.append('X-Auth-Token: %s' % token)
    lines += ['%s: %s' % h for h in headers]
    if length is not None:
        lines.append('Content-Length: %d' % length)
    if chunked:
        lines.append('Transfer-Encoding: chunked')
    if close:
        lines.append('Connection: close')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def read_answer(sock, timeout=10, started=None):
    """Read until the server closes (or resets) the connection, or nothing
    more arrived for ``timeout`` seconds."""
    started = time.monotonic() if started is None else started
    sock.settimeout(timeout)
    data = b''
    while True:
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            ended = OPEN
            break
        except ConnectionResetError:
            ended = RESET
            break
        if not piece:
            ended = EOF
            break
        data += piece
    return Answer(data, ended, time.monotonic() - started)


def exchange(port, request, timeout=10):
    """Send all of ``request`` (as a client that sends before it reads
    does: an error while sending is raised), then read the answer."""
    sock = connect(port)
    try:
        started = time.monotonic()
        sock.sendall(request)
        return read_answer(sock, timeout, started)
    finally:
        sock.close()
