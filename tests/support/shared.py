"""Costly servers shared by the tests of a class, and the rule for the
services a machine may lack.

``ClassFixturesTestCase.set_up_class`` (after ``prepare_class``, the hook
of a family of classes) starts what the class shares with
``use_class_fixture``; it is stopped after the class's last test (or at
once when the set-up fails half-way).  ``unavailable(name, reason)`` skips
a test (or class) for a missing service, unless the environment requires
that service (``NOVA_AGGREGATES_REQUIRE_BACKENDS``, as CI sets it): then
it fails, so that a green run has exercised it.
"""

import os
import unittest

import testtools

REQUIRE_ENV = 'NOVA_AGGREGATES_REQUIRE_BACKENDS'


def required_backends():
    value = os.environ.get(REQUIRE_ENV, '')
    return {name.strip().lower() for name in value.split(',') if name.strip()}


def unavailable(name, reason):
    """Skip for ``reason``; fail instead if ``name`` is required."""
    if name in required_backends():
        raise RuntimeError('%s, and %s requires %s' % (reason, REQUIRE_ENV,
                                                       name))
    raise unittest.SkipTest(reason)


class ClassFixturesTestCase(testtools.TestCase):
    """Servers shared by the tests of a class (they start in seconds, the
    tests take milliseconds).  Tests must not depend on each other's data.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._class_fixtures = []
        try:
            cls.check_available()
            cls.prepare_class()
            cls.set_up_class()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def check_available(cls):
        """Call ``unavailable`` for anything the class needs and lacks."""

    @classmethod
    def prepare_class(cls):
        """What a family of classes shares (e.g. a database, a Keystone),
        before ``set_up_class``."""

    @classmethod
    def set_up_class(cls):
        """Start the class's shared fixtures with ``use_class_fixture``."""

    @classmethod
    def use_class_fixture(cls, fixture):
        # A fixture whose set-up fails has cleaned up after itself.
        fixture.setUp()
        cls._class_fixtures.append(fixture)
        return fixture

    @classmethod
    def tearDownClass(cls):
        while cls._class_fixtures:
            cls._class_fixtures.pop().cleanUp()
        super().tearDownClass()
