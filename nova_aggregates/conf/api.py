import os

from oslo_config import cfg

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_paste_config():
    """Find the packaged api-paste.ini in a checkout or an installed tree."""
    candidates = [
        os.path.join(os.path.dirname(_PACKAGE_DIR), 'etc', 'api-paste.ini'),
        os.path.join(_PACKAGE_DIR, 'etc', 'api-paste.ini'),
        os.path.join(os.sys.prefix, 'etc', 'nova-aggregates', 'api-paste.ini'),
    ]
    for path in candidates:
        if os.path.exists(path):
            return path
    return candidates[-1]


STANDARD_EXTENSIONS = [
    'nova_aggregates.api.contrib.aggregates.Aggregates',
    'nova_aggregates.api.contrib.hosts.Hosts',
    'nova_aggregates.api.contrib.services.Services',
    'nova_aggregates.api.contrib.rolling_maintenance.RollingMaintenance',
    'nova_aggregates.api.contrib.host_matching.HostMatching',
]

api_group = cfg.OptGroup('api', title='API server options')

api_opts = [
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the API server listens on.'),
    cfg.PortOpt('bind_port', default=8774,
                help='Port the API server listens on.'),
    cfg.StrOpt('server', default='gunicorn',
               choices=[('gunicorn', 'gunicorn with our hardened threaded '
                         'worker (nova_aggregates.cmd.worker): read '
                         'deadlines for headers and bodies, send timeout, '
                         'lingering close after a refused body.'),
                        ('granian', 'granian (Rust HTTP/1.1 server, WSGI '
                         'interface, embedded): about half the per-request '
                         'cost of gunicorn. Headers are read by granian '
                         'within client_socket_timeout; a request body is '
                         'read by its request thread with '
                         'client_body_timeout checked between reads only, '
                         'there is no send timeout and no lingering '
                         'close.')],
               help='The HTTP server nova-aggregates-api runs the '
                    'application under. Both run [api] workers processes '
                    'of [api] threads request threads, keep connections '
                    'alive, start the per-process maintenance task runner '
                    'and Placement retrier in each worker, and stop '
                    'promptly on SIGTERM and SIGINT. See the choices for '
                    'how they treat slow clients.'),
    cfg.IntOpt('workers', default=1, min=1,
               help='Number of API worker processes.'),
    cfg.IntOpt('threads', default=8, min=1,
               help='Request threads per worker process (under granian: '
                    'its blocking threads, the threads that run the '
                    'application, started on demand).'),
    cfg.StrOpt('auth_strategy', default='noauth2',
               choices=[('noauth2', 'X-Auth-Token "user:project"; user '
                         '"admin" is an administrator. For testing and '
                         'the embedded setup only.'),
                        ('keystone', 'Identity from the headers set by '
                         'keystonemiddleware auth_token.')],
               help='How requests are authenticated. Selects the paste '
                    'pipeline of the same name.'),
    cfg.StrOpt('api_paste_config', default=default_paste_config(),
               sample_default='<package>/etc/api-paste.ini',
               help='Paste deploy configuration of the WSGI pipeline.'),
    cfg.ListOpt('extensions', default=STANDARD_EXTENSIONS,
                help='Dotted paths of the API extension descriptors to '
                     'load. Duplicate aliases are a startup error.'),
    cfg.StrOpt('filter_max_microversion', regex=r'^[1-9][0-9]*\.[0-9]+$',
               help='Only in front of another compute API (the '
                    '"extensions" paste filter): the highest microversion '
                    'accepted for our resources, normally the maximum of '
                    'the application behind the filter. Unset, it is read '
                    'once from that application\'s version document. '
                    'Requests are served with the semantics of the highest '
                    'version we implement that is not above the one asked '
                    'for, and that one is echoed.'),
    cfg.IntOpt('max_request_body_size', default=114688, min=1,
               help='Largest request body accepted, in bytes; larger '
                    'bodies get 413.'),
    cfg.IntOpt('max_discard_body_size', default=16 * 1024 * 1024, min=0,
               help='Largest request body, in bytes, that is read and '
                    'thrown away to answer a body over '
                    'max_request_body_size with 413: a client that sends '
                    'its whole body before reading the answer (most HTTP '
                    'libraries) then gets the 413 instead of a reset '
                    'connection. A request declaring more than this gets '
                    'its 413 at once, unread. The connection is closed '
                    'after either 413.'),
    cfg.FloatOpt('discard_body_timeout', default=5.0, min=0,
                 help='Longest time, in seconds, spent reading and throwing '
                      'away the body of a request refused with 413; a '
                      'client slower than that is answered and '
                      'disconnected without the rest.'),
    cfg.FloatOpt('client_body_timeout', default=30.0, min=0,
                 help='Longest time, in seconds, the whole body of one '
                      'request may take to arrive (a deadline, not a '
                      'per-read timeout: a body trickled a byte at a time '
                      'cannot extend it). Past it the request gets 408 and '
                      'its connection is closed. 0 means no limit. Under '
                      'nova-aggregates-api a read that stalls is cut at the '
                      'deadline; under another WSGI server the deadline is '
                      'checked between reads only.'),
    cfg.FloatOpt('client_socket_timeout', default=30.0, min=0,
                 help='nova-aggregates-api only: longest time, in seconds, a '
                      'request thread waits for a client, as a deadline for '
                      'the request line and headers (counted from when a '
                      'thread takes the connection; a client that trickles '
                      'them is disconnected) and as the timeout of each '
                      'send of a response to a client that does not read '
                      'it. Idle keep-alive connections hold no thread and '
                      'are closed after 5 seconds. 0 means no limit. Under '
                      '[api] server = granian it is granian\'s HTTP/1 '
                      'header read timeout (http1_header_read_timeout, '
                      'in milliseconds, 1 to 60000: at most 60 seconds, '
                      'and 0 means 60), which also closes idle keep-alive '
                      'connections (after this long, not 5 seconds); '
                      'there is no send timeout.'),
    cfg.IntOpt('busy_poll', default=500, min=0, max=2000,
               help='nova-aggregates-api only: microseconds a request '
                    'thread that is the only busy one of its worker '
                    'polls a kept-alive connection without sleeping for '
                    'the client\'s next request, before it sleeps on it. '
                    'A client that sends its requests one after the other '
                    'gets each answered by a processor that stayed awake '
                    '(on a virtual machine, a request that follows a '
                    'sleep of its thread can take twice as long). It '
                    'costs at most this much processor '
                    'time per request, and none while the worker has '
                    'other requests to serve (the poll gives way to them '
                    'and to other processes). 0 turns it off.'),
    cfg.IntOpt('max_aggregate_metadata_items', default=128, min=1,
               help='Largest number of metadata keys one aggregate may '
                    'hold.'),
    cfg.StrOpt('default_availability_zone', default='nova',
               help='Zone shown for a compute host that is in no '
                    'aggregate with an availability zone and was '
                    'registered without one.'),
]


def register_opts(conf):
    # A fresh OptGroup per ConfigOpts: oslo.config keeps overrides on the
    # group object, so a shared one would leak them between instances.
    group = cfg.OptGroup(api_group.name, title=api_group.title)
    conf.register_group(group)
    conf.register_opts(api_opts, group=group)


def list_opts():
    return {api_group: api_opts}
