"""A private nginx that terminates TLS in front of an API server.

Everything it uses is in a temporary directory of its own: configuration,
certificate, pid file, logs and the temporary paths nginx would otherwise
create under /var/lib/nginx.  It runs in the foreground (``daemon off``) in
a process group of its own, on 127.0.0.1:<free port>, and is stopped (its
workers too) on cleanup.  As root its workers keep running as root: no
switch to a user that could not read the temporary directory.
"""

import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess

import fixtures

from tests.support import process
from tests.support import shared

NGINX = 'nginx'
START_TIMEOUT = 15

_CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
%(user)s
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;

events {
    worker_connections 64;
}

http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;

    server {
        listen 127.0.0.1:%(port)d ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;

        location / {
            proxy_pass http://127.0.0.1:%(upstream)d;
            proxy_http_version 1.1;
            # The Host header stays nginx's default, the upstream's own
            # address: the service learns the public one from these only.
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # Pass Location headers through as the service wrote them.
            proxy_redirect off;
        }
    }
}
"""


class Unavailable(Exception):
    pass


def check_available():
    """Unavailable unless nginx and openssl are installed."""
    for program in (NGINX, 'openssl'):
        if shutil.which(program) is None and not os.path.exists(
                os.path.join('/usr/sbin', program)):
            raise Unavailable('%s is not installed (Debian package %s)' % (
                program, program))


def nginx_binary():
    return shutil.which(NGINX) or os.path.join('/usr/sbin', NGINX)


def require():
    """Skip (or fail, when the environment requires nginx) unless nginx and
    openssl are installed."""
    try:
        check_available()
    except Unavailable as exc:
        shared.unavailable(NGINX, str(exc))


def make_certificate(directory, address='127.0.0.1'):
    """A throw-away self-signed certificate for ``address`` (an IP), its
    own CA: (certificate path, key path)."""
    cert = os.path.join(directory, 'cert.pem')
    key = os.path.join(directory, 'key.pem')
    result = subprocess.run(
        ['openssl', 'req', '-x509', '-nodes', '-newkey', 'ec',
         '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-days', '2',
         '-subj', '/CN=%s' % address, '-keyout', key, '-out', cert,
         '-addext', 'subjectAltName=IP:%s' % address,
         '-addext', 'basicConstraints=critical,CA:TRUE',
         '-addext', 'keyUsage=critical,digitalSignature,keyCertSign',
         '-addext', 'extendedKeyUsage=serverAuth'],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError('openssl req failed: %s' % result.stderr)
    return cert, key


free_port = process.free_port


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        #: ``[(name, value)]`` as received (names may repeat).
        self.header_list = headers
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def __repr__(self):
        return '<%d %r>' % (self.status, self.body[:300])


def request(connection, method, path, headers=None, body=None):
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.getheaders(),
                        response.read())
    finally:
        connection.close()


class _NginxProcess(process.ServerProcess):
    """nginx speaks TLS: accepting a connection is answering."""

    def answers(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port),
                                          timeout=1):
                return True
        except OSError:
            return False


class NginxProxy(fixtures.Fixture):
    """nginx on https://127.0.0.1:<port>, proxying to ``upstream_port``.

    ``base_url`` is the public address; ``request()`` sends one request
    over TLS, verifying the certificate (``cafile``).
    """

    def __init__(self, upstream_port):
        super().__init__()
        self.upstream_port = upstream_port
        self.proc = None

    def _setUp(self):
        check_available()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.cafile, self.keyfile = make_certificate(self.dir)
        self.addCleanup(self._stop)
        for attempt in range(3):
            self.port = free_port()
            if self._start():
                break
        else:
            raise RuntimeError('nginx did not start:\n%s' % self.output())
        self.base_url = 'https://127.0.0.1:%d' % self.port
        self.ssl_context = ssl.create_default_context(cafile=self.cafile)

    def _write_config(self):
        path = os.path.join(self.dir, 'nginx.conf')
        with open(path, 'w') as f:
            f.write(_CONFIG % {
                'dir': self.dir, 'port': self.port, 'cert': self.cafile,
                'key': self.keyfile, 'upstream': self.upstream_port,
                'user': 'user root root;' if os.geteuid() == 0 else ''})
        return path

    def _start(self):
        """Start nginx; True once it accepts connections, False if it
        exited (its port was taken)."""
        config = self._write_config()
        self.server = _NginxProcess(
            [nginx_binary(), '-p', self.dir + '/', '-c', config,
             '-e', os.path.join(self.dir, 'error.log')], self.port,
            os.path.join(self.dir, 'stderr.log'), 'nginx', cwd=self.dir)
        try:
            self.server.start(START_TIMEOUT)
        except process.ServerExited:
            return False
        except process.ServerStartError:
            raise RuntimeError('nginx did not listen within %ds:\n%s' % (
                START_TIMEOUT, self.output()))
        self.proc = self.server.proc
        return True

    def _stop(self):
        if self.proc is None:
            return
        self.server.stop(signal.SIGTERM, timeout=10)
        self.proc = None

    def output(self):
        text = []
        for name in ('stderr.log', 'error.log'):
            try:
                with open(os.path.join(self.dir, name),
                          errors='replace') as f:
                    text.append(f.read()[-4000:])
            except OSError:
                pass
        return '\n'.join(text)

    def request(self, method, path, headers=None, body=None, timeout=30):
        connection = http.client.HTTPSConnection(
            '127.0.0.1', self.port, timeout=timeout,
            context=self.ssl_context)
        return request(connection, method, path, headers, body)


def direct_request(port, method, path, headers=None, body=None, timeout=30):
    """One plain-HTTP request to the API server itself, past the proxy."""
    connection = http.client.HTTPConnection('127.0.0.1', port,
                                            timeout=timeout)
    return request(connection, method, path, headers, body)
