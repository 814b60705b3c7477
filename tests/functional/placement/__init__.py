"""A real OpenStack Placement (``tests.support.placement``), which our
aggregate memberships are mirrored into, and the proxy that makes it fail.

Placement 16 runs from the Nova venv (``.services/nova``, built by ``make
services``); without it these tests skip, unless
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nova``.
"""
