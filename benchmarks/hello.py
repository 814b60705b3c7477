"""The floor: a bare "hello" WSGI application served exactly like the API.

``python -m benchmarks.hello --config-file F`` runs it under the API's own
gunicorn setup (``nova_aggregates.cmd.api._Server``: same bind options,
workers, threads, worker class and keep-alive), so the difference between
an API operation and this is what the API itself costs.
"""

import sys

from nova_aggregates.cmd import api as api_cmd
from nova_aggregates.cmd import common

BODY = b'{"hello": "world"}'


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(BODY)))])
    return [BODY]


class _HelloServer(api_cmd._Server):

    def load(self):
        return app


def main(argv=None):
    conf = common.parse_args(sys.argv[1:] if argv is None else argv)
    print('hello listening on http://%s:%d/' % (conf.api.bind_host,
                                                conf.api.bind_port),
          flush=True)
    _HelloServer(conf).run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
