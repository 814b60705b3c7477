"""The API behind keystonemiddleware's auth_token, against a real Keystone.

Keystone runs from its own venv (``.services/keystone``, built by
``make services``); without it these tests skip, unless
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``keystone``.
"""
