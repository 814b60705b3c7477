"""The authorization matrix: every URL of both surfaces x every method x
every kind of caller, through the whole paste pipeline.

Callers: no credentials, a non-admin, an admin (noauth2), and, with
``[api] auth_strategy = keystone``, a user whose custom role a policy file
grants exactly one operation (for each operation in turn).  Expected:

* version documents: 200 for everyone;
* no credentials: 401 on every other URL and method;
* wrong method on a known URL: 405 for any authenticated caller;
* extension listing: 200 for any authenticated caller;
* every other operation: the admin succeeds, the non-admin gets 403, and
  the custom role succeeds on its one operation and gets 403 elsewhere;

and a refused request leaves the database exactly as it was.
"""

import functools
import json
import os
import time

import fixtures
from oslo_policy import policy as oslo_policy
import sqlalchemy as sa
import testtools
import testtools.content
import webob

from nova_aggregates.db import api as db_api
from nova_aggregates import policy
from tests import base
from tests.support import concurrency

PROJECT = 'proj1'
PREFIXES = ('/v2.1', '/v2.1/' + PROJECT, '/v1.1/' + PROJECT,
            '/v2/' + PROJECT)
LEGACY_SUFFIXES = ('', '.json', '.xml')
METHODS = ('GET', 'POST', 'PUT', 'DELETE', 'PATCH')
ROOTS = ('/', '/v1.1', '/v1.1/', '/v2', '/v2/', '/v2.1', '/v2.1/')

# (path below the prefix, method, operation); operation names the policy
# rule (os_compute_api:<rule>), None for the extension listing (anyone).
OPERATIONS = (
    ('/extensions', 'GET', None),
    ('/extensions/os-aggregates', 'GET', None),
    ('/os-aggregates', 'GET', 'os-aggregates:index'),
    ('/os-aggregates', 'POST', 'os-aggregates:create'),
    ('/os-aggregates/{id}', 'GET', 'os-aggregates:show'),
    ('/os-aggregates/{id}', 'PUT', 'os-aggregates:update'),
    ('/os-aggregates/{id}', 'DELETE', 'os-aggregates:delete'),
    ('/os-aggregates/{id}/action', 'POST', 'os-aggregates:add_host'),
    ('/os-aggregates/{id}/action', 'POST', 'os-aggregates:remove_host'),
    ('/os-aggregates/{id}/action', 'POST', 'os-aggregates:set_metadata'),
    ('/os-hosts', 'GET', 'os-hosts:list'),
    ('/os-services', 'GET', 'os-services:list'),
    ('/os-host-matching', 'POST', 'os-host-matching:create'),
    ('/os-rolling-maintenance', 'GET', 'os-rolling-maintenance:index'),
    ('/os-rolling-maintenance', 'POST', 'os-rolling-maintenance:create'),
    ('/os-rolling-maintenance/{task}', 'GET', 'os-rolling-maintenance:show'),
    ('/os-rolling-maintenance/{task}', 'DELETE',
     'os-rolling-maintenance:delete'),
    ('/os-rolling-maintenance/{task}/action', 'POST',
     'os-rolling-maintenance:resume'),
)
#: Operations whose success is not a 200.
ACCEPTED = {'os-rolling-maintenance:create', 'os-rolling-maintenance:delete',
            'os-rolling-maintenance:resume'}
URLS = sorted({path for path, _, _ in OPERATIONS})
RULES = [op for _, _, op in OPERATIONS if op]
FAULT = {401: 'unauthorized', 403: 'forbidden', 405: 'badMethod'}


def allowed_methods(path):
    return {method for p, method, _ in OPERATIONS if p == path}


def urls():
    """Every (prefix, suffix) the service answers."""
    for prefix in PREFIXES:
        for suffix in (LEGACY_SUFFIXES if prefix.startswith(('/v1.1', '/v2/'))
                       else ('',)):
            yield prefix, suffix


class MatrixTestCase(base.APITestCase):

    def setUp(self):
        super().setUp()
        self.counter = 0
        self.mismatches = []
        self.cells = 0
        self.api.register_host('host0', 'az1')
        self.seeded = self.manager.create_aggregate(
            self.context, 'agg0', 'az1')['id']
        self.manager.add_host(self.context, self.seeded, 'host0')

    # -- state for one cell ---------------------------------------------------

    def body(self, operation, host):
        if operation == 'os-aggregates:create':
            return {'aggregate': {'name': 'new%d' % self.counter}}
        if operation == 'os-aggregates:update':
            return {'aggregate': {'name': 'renamed%d' % self.counter}}
        if operation == 'os-aggregates:add_host':
            return {'add_host': {'host': host}}
        if operation == 'os-aggregates:remove_host':
            return {'remove_host': {'host': host}}
        if operation == 'os-aggregates:set_metadata':
            return {'set_metadata': {'metadata': {
                'k%d' % self.counter: 'v'}}}
        if operation == 'os-host-matching:create':
            return {'request': {'availability_zone': 'az1'}}
        if operation == 'os-rolling-maintenance:create':
            return {'rolling_maintenance': {'aggregate_id': self.seeded}}
        if operation == 'os-rolling-maintenance:resume':
            return {'resume': None}
        return None

    def fresh_task(self, operation):
        """A pool aggregate with a host (create), or a task of one on
        which ``operation`` succeeds; returns (aggregate id, task id,
        body)."""
        self.counter += 1
        host = 'host%d' % self.counter
        self.api.register_host(host, 'az1')
        agg_id = self.manager.create_aggregate(
            self.context, 'pool%d' % self.counter, 'az1')['id']
        self.manager.set_metadata(self.context, agg_id,
                                  {'hypervisor_pool': 'true'})
        self.manager.add_host(self.context, agg_id, host)
        if operation == 'os-rolling-maintenance:create':
            return agg_id, None, {'rolling_maintenance': {
                'aggregate_id': agg_id}}
        rolling = self.api.services.rolling_maintenance
        task_id = rolling.create_task(self.context, agg_id)['id']
        if operation == 'os-rolling-maintenance:resume':
            rolling.cancel_task(self.context, task_id)
        return agg_id, task_id, self.body(operation, host)

    def fresh(self, operation):
        """An aggregate (and a host) on which ``operation`` succeeds;
        returns (aggregate id, body)."""
        self.counter += 1
        host = 'host%d' % self.counter
        self.api.register_host(host, 'az1')
        agg = self.manager.create_aggregate(self.context,
                                            'agg%d' % self.counter, 'az1')
        if operation == 'os-aggregates:remove_host':
            self.manager.add_host(self.context, agg['id'], host)
        return agg['id'], self.body(operation, host)

    def snapshot(self):
        """A fingerprint of every table: row counts and the newest
        change (every write stamps updated_at or adds a row)."""
        with db_api.get_engine().connect() as conn:
            return tuple(conn.execute(sa.select(
                sa.func.count(), *extra)).one() for extra in (
                    [sa.func.max(db_api.aggregates.c.updated_at),
                     sa.func.max(db_api.aggregates.c.id)],
                    [sa.func.max(db_api.aggregate_hosts.c.id)],
                    [sa.func.max(db_api.aggregate_metadata.c.id)],
                    [sa.func.max(db_api.compute_hosts.c.updated_at)]))

    # -- one request ----------------------------------------------------------

    def send(self, method, path, body, caller):
        req = webob.Request.blank(path, method=method,
                                  headers=self.credentials(caller))
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        return req.get_response(self.api.app)

    def check(self, method, path, body, caller, expected):
        """Send one cell; a refusal must leave the database as it was."""
        self.cells += 1
        before = self.snapshot() if expected != 200 else None
        response = self.send(method, path, body, caller)
        problem = None
        if response.status_int != expected:
            problem = 'got %s: %s' % (response.status_int, response.body[:200])
        elif expected in FAULT:
            if path.endswith('.xml'):
                if FAULT[expected].encode() not in response.body:
                    problem = 'not an XML %s fault' % FAULT[expected]
            elif list(json.loads(response.body)) != [FAULT[expected]]:
                problem = 'fault body %s' % response.body[:200]
            if before != self.snapshot():
                problem = 'the database changed'
        if problem:
            self.mismatches.append('%s %s as %s, expected %s: %s' % (
                method, path, caller, expected, problem))
        return response

    def cell(self, prefix, suffix, path, method, operation, caller,
             expected):
        task_id = 1
        if expected == 200 and operation and operation.startswith(
                'os-aggregates'):
            agg_id, body = self.fresh(operation)
        elif expected == 200 and operation and operation.startswith(
                'os-rolling-maintenance'):
            agg_id, task_id, body = self.fresh_task(operation)
        else:
            # Refused before anything is looked up: the seeded aggregate.
            agg_id, body = self.seeded, self.body(operation, 'host0')
        if body is None and method in ('POST', 'PUT'):
            body = {'aggregate': {'name': 'x'}}
        if expected == 200 and operation in ACCEPTED:
            expected = 202
        full = prefix + path.replace('{id}', str(agg_id)).replace(
            '{task}', str(task_id)) + suffix
        self.check(method, full, body, caller, expected)

    def assertNoMismatches(self):
        self.addDetail('cells', testtools.content.text_content(
            '%d requests' % self.cells))
        self.assertEqual([], self.mismatches, '%d of %d cells' % (
            len(self.mismatches), self.cells))

    def run_matrix(self, caller, expect):
        """``expect(path, method, operation)`` -> status, for every URL,
        method (each action once per operation) and surface."""
        for prefix, suffix in urls():
            for path in URLS:
                allowed = allowed_methods(path)
                for method in METHODS:
                    if method not in allowed:
                        self.cell(prefix, suffix, path, method, None, caller,
                                  expect(path, method, None))
                        continue
                    for p, m, operation in OPERATIONS:
                        if (p, m) == (path, method):
                            self.cell(prefix, suffix, path, method,
                                      operation, caller,
                                      expect(path, method, operation))
        for root in ROOTS:
            self.check('GET', root, None, caller, 200)
        self.assertNoMismatches()


class TestNoAuth2Matrix(MatrixTestCase):

    def credentials(self, caller):
        return {None: {}, 'member': {'X-Auth-Token': 'alice:' + PROJECT},
                'admin': {'X-Auth-Token': 'admin:' + PROJECT}}[caller]

    def test_no_credentials(self):
        self.run_matrix(None, lambda path, method, operation: 401)

    def test_non_admin(self):
        def expect(path, method, operation):
            if method not in allowed_methods(path):
                return 405
            return 200 if operation is None else 403
        self.run_matrix('member', expect)

    def test_admin(self):
        def expect(path, method, operation):
            return 200 if method in allowed_methods(path) else 405
        self.run_matrix('admin', expect)


class TestCustomRoleMatrix(MatrixTestCase):
    """Keystone identities; a policy file grants one operation to the
    role ``aggregate-operator`` (each operation in turn)."""

    config_overrides = {('api', 'auth_strategy'): 'keystone'}

    def credentials(self, caller):
        if caller is None:
            return {}
        roles = {'admin': 'admin,member', 'member': 'member',
                 'custom': 'aggregate-operator,member'}[caller]
        return {'X-Auth-Token': self.api.keystone.token(
            roles, user='u-' + caller, project=PROJECT)}

    def write_policy(self, granted):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'policy.yaml')
        with open(path, 'w') as f:
            f.write('"os_compute_api:%s": "role:aggregate-operator or '
                    'rule:context_is_admin"\n' % granted)
        policy.get_enforcer()
        self.conf_fixture.config(policy_file=path, group='oslo_policy')
        policy.reset()

    def test_each_operation_granted_alone(self):
        for granted in RULES:
            self.write_policy(granted)

            def expect(path, method, operation, granted=granted):
                if method not in allowed_methods(path):
                    return 405
                if operation is None or operation == granted:
                    return 200
                return 403
            self.run_matrix('custom', expect)
        # The admin keeps everything the file did not take away.
        self.run_matrix('admin', lambda path, method, operation:
                        200 if method in allowed_methods(path) else 405)

    def test_member_and_anonymous_under_keystone(self):
        self.write_policy('os-aggregates:show')

        def member(path, method, operation):
            if method not in allowed_methods(path):
                return 405
            return 200 if operation is None else 403
        self.run_matrix('member', member)
        self.run_matrix(None, lambda path, method, operation: 401)


class TestConcurrentFirstUse(base.APITestCase):
    """A new API worker answers its first requests on several threads at
    once: each policy decision must see the complete rule set, never a
    half-built enforcer (PolicyNotRegistered, a 500)."""

    THREADS = 8

    def test_enforcer_is_complete_before_it_is_shared(self):
        policy.reset()
        register = oslo_policy.Enforcer.register_defaults

        def slow_register(enforcer, rules):
            # Widen the window in which a half-built enforcer is visible.
            time.sleep(0.2)
            return register(enforcer, rules)

        self.useFixture(fixtures.MonkeyPatch(
            'oslo_policy.policy.Enforcer.register_defaults', slow_register))

        def decide(rule):
            policy.authorize(self.context, 'os_compute_api:' + rule)
            return 'allowed'

        outcomes = concurrency.at_once(
            [functools.partial(decide, RULES[i % len(RULES)])
             for i in range(self.THREADS)], timeout=30)
        self.assertEqual(['allowed'] * self.THREADS, outcomes)
