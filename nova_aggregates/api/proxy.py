"""Deployment filters from oslo.middleware: CORS and proxy headers.

``cors`` (oslo.middleware's CORS, options in ``[cors]``) lets a browser
dashboard on another origin call the API; ``http_proxy_to_wsgi``
(HTTPProxyToWSGI, ``[oslo_middleware] enable_proxy_headers_parsing``) makes
the URLs the service builds (version documents) name the scheme and host the
client used in front of a TLS-terminating proxy, from ``X-Forwarded-Proto``
/ ``X-Forwarded-Host`` / ``X-Forwarded-For`` / ``X-Forwarded-Prefix`` or
``Forwarded`` (RFC 7239).

Both are given our configuration object explicitly (``configuration()``,
read once when paste builds the pipeline; today it is the process-wide
``nova_aggregates.conf.CONF``): they never look one up themselves.
Both are webob-based and cost every request a Request and a Response
object; a filter that has nothing to do with the configuration given is
therefore left out of the pipeline (the factory returns the application
itself).  Enabled, they are oslo.middleware's classes, unchanged.
"""

from oslo_middleware import cors
from oslo_middleware import http_proxy_to_wsgi

from nova_aggregates import conf as na_conf

#: Request headers a browser client of this API sends besides the simple
#: ones oslo.middleware always allows (Accept, Content-Type, ...).
CORS_ALLOW_HEADERS = ['X-Auth-Token', 'X-OpenStack-Request-ID',
                      'OpenStack-API-Version', 'X-OpenStack-Nova-API-Version']
#: Response headers a browser client may read.
CORS_EXPOSE_HEADERS = ['X-OpenStack-Request-ID', 'X-Compute-Request-ID',
                       'OpenStack-API-Version', 'X-OpenStack-Nova-API-Version']
CORS_ALLOW_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS']

#: Our defaults for oslo.middleware's options: ``{group: {name: value}}``.
#: Applied to our configuration object by the factories, and to the
#: library's option definitions by ``set_lib_defaults`` for the sample
#: configuration file.
LIB_DEFAULTS = {
    'cors': {'allow_headers': CORS_ALLOW_HEADERS,
             'expose_headers': CORS_EXPOSE_HEADERS,
             'allow_methods': CORS_ALLOW_METHODS},
    'healthcheck': {'backends': ['disable_by_file', 'database'],
                    'disable_by_file_path': 'var/healthcheck_disable'},
}

# Keys of a paste section that name where oslo.middleware should find a
# configuration; we always pass ours, so they mean nothing here.
_OSLO_CONFIG_KEYS = frozenset(('oslo_config_project', 'oslo_config_file',
                               'oslo_config_program'))


def configuration():
    """The ConfigOpts the deployment filters and the health check read.

    The one place they take it from, when paste builds the pipeline.
    """
    return na_conf.CONF


def register_lib_opts(conf, group, opts, defaults=None):
    """Register oslo.middleware's ``opts`` on ``conf`` (the middleware
    classes register the same objects again, which oslo.config ignores) and
    apply our ``defaults`` to this configuration object only."""
    conf.register_opts(opts, group=group)
    for name, value in (defaults or {}).items():
        conf.set_default(name, value, group=group)


def register_opts(conf):
    """The options of both filters, with our defaults, on ``conf``."""
    register_lib_opts(conf, 'cors', cors.OPTS, LIB_DEFAULTS['cors'])
    register_lib_opts(conf, 'oslo_middleware', http_proxy_to_wsgi.OPTS)


def apply_paste_options(conf, group, opts, section, local_conf):
    """Options written in the paste section override the configuration, as
    they do with oslo.middleware's own factories; anything else there is a
    start-up error rather than a silently ignored setting."""
    names = {opt.dest for opt in opts}
    for key, value in local_conf.items():
        if key in _OSLO_CONFIG_KEYS:
            continue
        if key not in names:
            raise ValueError('Unknown option %r in [%s] of the paste '
                             'configuration; known: %s' % (
                                 key, section, ', '.join(sorted(names))))
        conf.set_override(key, value, group=group)


def set_lib_defaults():
    """oslo-config-generator hook (``oslo.config.opts.defaults``): show our
    defaults in the sample configuration.  Changes the library's option
    definitions for the whole process: not for use at run time."""
    from oslo_middleware.healthcheck import opts as healthcheck_opts
    from oslo_config import cfg

    from nova_aggregates import notifications

    notifications.set_lib_defaults()
    cfg.set_defaults(cors.OPTS, **LIB_DEFAULTS['cors'])
    defaults = LIB_DEFAULTS['healthcheck']
    for opts in (healthcheck_opts.HEALTHCHECK_OPTS,
                 healthcheck_opts.DISABLE_BY_FILE_OPTS):
        names = {opt.dest for opt in opts}
        cfg.set_defaults(opts, **{name: value
                                  for name, value in defaults.items()
                                  if name in names})


def _unwrapped(app):
    return app


def cors_filter_factory(global_conf, **local_conf):
    """oslo.middleware's CORS, configured by ``[cors]``.

    With no ``[cors] allowed_origin`` the filter would add no header to any
    response, so the application is returned unwrapped.  The one visible
    difference: CORS answers every OPTIONS request that the application
    refuses with an empty 200; unwrapped, the application's answer (a 405)
    goes out.
    """
    conf = configuration()
    register_opts(conf)
    apply_paste_options(conf, 'cors', cors.OPTS, 'filter:cors', local_conf)
    if not conf.cors.allowed_origin:
        return _unwrapped

    def _filter(app):
        return cors.CORS(app, conf)
    return _filter


def http_proxy_to_wsgi_filter_factory(global_conf, **local_conf):
    """oslo.middleware's HTTPProxyToWSGI when ``[oslo_middleware]
    enable_proxy_headers_parsing`` is true.

    Disabled, the filter leaves every request as it is, so the application
    is returned unwrapped: nothing in the pipeline reads ``X-Forwarded-*``
    (for that to hold end to end the HTTP server must not either: gunicorn
    does for clients in its ``forwarded_allow_ips``).  The option is read
    once, when paste builds the pipeline.
    """
    conf = configuration()
    register_opts(conf)
    apply_paste_options(conf, 'oslo_middleware', http_proxy_to_wsgi.OPTS,
                        'filter:http_proxy_to_wsgi', local_conf)
    if not conf.oslo_middleware.enable_proxy_headers_parsing:
        return _unwrapped

    def _filter(app):
        return http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    return _filter
