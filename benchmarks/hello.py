"""The floor: a bare "hello" WSGI application served exactly like the API.

``python -m benchmarks.hello --config-file F`` runs it through the API's
own server code (``nova_aggregates.cmd.api.serve``): the server ``[api]
server`` selects (gunicorn with our worker, or granian), with the same bind
options, workers, threads, keep-alive and per-worker start-up, so the
difference between an API operation and this is what the API itself costs
under that server.
"""

import sys

from nova_aggregates.cmd import api as api_cmd
from nova_aggregates.cmd import common

BODY = b'{"hello": "world"}'


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(BODY)))])
    return [BODY]


def load(conf):
    """What each worker serves instead of the API (module level: a
    worker that does not inherit the configuration imports it)."""
    return app


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    conf = common.parse_args(argv)
    print('hello listening on http://%s:%d/ (%s)' % (
        conf.api.bind_host, conf.api.bind_port, conf.api.server), flush=True)
    api_cmd.serve(conf, argv, load=load)
    return 0


if __name__ == '__main__':
    sys.exit(main())
