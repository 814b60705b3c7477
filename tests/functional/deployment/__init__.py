"""The pipeline pieces of a deployment: behind a TLS-terminating reverse
proxy (a private nginx started by the tests), ``/healthcheck`` for load
balancers, CORS for browser dashboards.

The nginx tests skip when Debian's ``nginx`` (or ``openssl``, which makes
their throw-away certificate) is not installed, unless
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nginx``: then they fail.
"""
