"""The real Nova compute API (with a real Placement), as our filter will be
loaded into it.

Nova 34 and Placement 16 run from their own venv (``.services/nova``, built
by ``make services``, with this checkout installed into it editable); see
``tests/support/nova.py``.  Without that venv these tests skip, unless
``NOVA_AGGREGATES_REQUIRE_BACKENDS`` names ``nova``.
"""
