"""doc/openapi.yaml against the router and against the live server.

The document must describe exactly the routes the service has (every URL
and method of both surfaces), and the running server (``nova-aggregates-api``
with two workers, on a free port) must answer every request that
schemathesis generates from it, valid and invalid, without a 5xx and as the
document says: status code, content type, headers and body schema.

Deterministic: hypothesis runs derandomized with a fixed example budget
(``NOVA_AGGREGATES_FUZZ_EXAMPLES`` per operation and generation mode, 20 by
default) and no example database.
"""

import collections
import os
import re

import hypothesis
import hypothesis.errors
import schemathesis
from schemathesis import checks as st_checks
from schemathesis.generation import modes
from schemathesis.specs.openapi import checks as oas_checks
import sqlalchemy as sa
import testtools
import testtools.content
import yaml

from nova_aggregates.api.contrib import aggregates as aggregates_api
from nova_aggregates.api.contrib import host_matching as host_matching_api
from nova_aggregates.api.contrib import hosts as hosts_api
from nova_aggregates.api.contrib import rolling_maintenance as \
    rolling_maintenance_api
from nova_aggregates.api.contrib import services as services_api
from nova_aggregates.api import extensions
from nova_aggregates import context
from nova_aggregates.db import migration
from nova_aggregates import service
from tests.functional import backends
from tests.functional.backends import servers
from tests import fixtures as na_fixtures

DOCUMENT = os.path.join(na_fixtures.REPO, 'doc', 'openapi.yaml')
EXAMPLES = int(os.environ.get('NOVA_AGGREGATES_FUZZ_EXAMPLES', '20'))
PROJECT = 'admin'
HEADERS = {'X-Auth-Token': 'admin:%s' % PROJECT}
VERSION_HEADERS = {'OpenStack-API-Version': 'compute latest',
                   'X-OpenStack-Nova-API-Version': 'latest'}

CHECKS = [
    st_checks.not_a_server_error,
    oas_checks.status_code_conformance,
    oas_checks.content_type_conformance,
    oas_checks.response_headers_conformance,
    oas_checks.response_schema_conformance,
    oas_checks.negative_data_rejection,
]

ROOTS = {'/', '/v1.1', '/v1.1/', '/v2', '/v2/', '/v2.1', '/v2.1/'}


def router_routes():
    """``{path: methods}`` of every route the service has, as the
    document spells the paths."""
    routes = list(extensions.ExtensionsController.ROUTES)
    for module in (aggregates_api, hosts_api, services_api,
                   host_matching_api):
        routes.extend(module.ROUTES)
    routes.extend((path.replace('{id}', '{task_id}'), methods)
                  for path, methods in rolling_maintenance_api.ROUTES)
    result = {}
    for path, methods in routes:
        path = path.replace('{id}', '{aggregate_id}')
        for prefix in ('/v2.1', '/v2.1/{project_id}'):
            result[prefix + path] = set(methods)
        for prefix in ('/v1.1/{project_id}', '/v2/{project_id}'):
            for suffix in ('', '.json', '.xml'):
                result[prefix + path + suffix] = set(methods)
    for root in ROOTS:
        result[root] = {'GET'}
    return result


class TestDocument(testtools.TestCase):

    def setUp(self):
        super().setUp()
        with open(DOCUMENT) as f:
            self.doc = yaml.safe_load(f)

    def test_is_openapi_3_0(self):
        self.assertTrue(self.doc['openapi'].startswith('3.0.'))
        schema = schemathesis.openapi.from_path(DOCUMENT)
        operations = [op.ok() for op in schema.get_all_operations()]
        # 19 routes on 8 prefixes, and the 7 version documents.
        self.assertEqual(19 * 8 + 7, len(operations))

    def test_every_route_and_nothing_else(self):
        documented = {
            path: {m.upper() for m in item
                   if m in ('get', 'put', 'post', 'delete', 'patch', 'head')}
            for path, item in self.doc['paths'].items()}
        self.assertEqual(router_routes(), documented)

    def test_every_fault_is_a_documented_fault_body(self):
        schemas = self.doc['components']['schemas']
        for path, item in self.doc['paths'].items():
            for method, op in item.items():
                for status, response in op['responses'].items():
                    if status.startswith('2'):
                        continue
                    if '$ref' in response:
                        response = self.doc['components']['responses'][
                            response['$ref'].rsplit('/', 1)[1]]
                    self.assertIn('x-compute-request-id',
                                  response['headers'])
                    if status == '304':
                        # Not Modified (conditional requests): no body,
                        # the ETag.
                        self.assertNotIn('content', response)
                        self.assertIn('ETag', response['headers'])
                    media = response.get('content', {})
                    if 'application/json' in media:
                        name = media['application/json']['schema'][
                            '$ref'].rsplit('/', 1)[1]
                        self.assertEqual('Fault' + status, name)
                        (fault, body), = schemas[name][
                            'properties'].items()
                        self.assertEqual([int(status)], body['properties'][
                            'code']['enum'], (path, method, status))
                    if path.startswith('/v2.1'):
                        self.assertIn('OpenStack-API-Version',
                                      response['headers'])

    def test_strict_bodies(self):
        schemas = self.doc['components']['schemas']
        for name in ('Aggregate', 'CreatedAggregate', 'LegacyAggregate',
                     'LegacyCreatedAggregate', 'Extension', 'Version',
                     'VersionSummary', 'CreateRequest', 'UpdateRequest',
                     'AddHost', 'RemoveHost', 'SetMetadata',
                     'HostMatchingRequest', 'HostMatchingResult',
                     'RollingMaintenanceTask', 'RollingMaintenanceHost',
                     'RollingMaintenanceTaskBody', 'RollingMaintenanceTasks',
                     'RollingMaintenanceCreateRequest',
                     'RollingMaintenanceResume'):
            self.assertIs(False, schemas[name]['additionalProperties'], name)
        self.assertEqual(
            {'id', 'name', 'availability_zone', 'created_at', 'updated_at',
             'deleted_at', 'deleted', 'hosts', 'metadata', 'uuid'},
            set(schemas['Aggregate']['properties']))
        self.assertNotIn('uuid', schemas['Aggregate']['required'])


class TestFuzz(testtools.TestCase):
    """schemathesis against a live server on SQLite."""

    def setUp(self):
        super().setUp()
        self.database = self.useFixture(backends.BackendDatabase(
            backends.SQLITE))
        engine = sa.create_engine(self.database.url)
        migration.db_sync(engine)
        engine.dispose()
        self.server = self.useFixture(servers.APIServer(self.database.url,
                                                        workers=2))
        self.base_url = 'http://127.0.0.1:%d' % self.server.port
        self.seed()
        self.schema = schemathesis.openapi.from_path(DOCUMENT)

    def seed(self):
        """Hosts and aggregates for the fuzzer to find."""
        backends.ensure_conf_parsed()
        conf = self.useFixture(na_fixtures.ConfFixture())
        conf.config(connection=self.database.url, group='database')
        service.reset()
        self.addCleanup(service.reset)
        manager = service.get_services().aggregates
        ctx = context.get_admin_context()
        for name in ('host1', 'host2', 'host3'):
            service.get_services().compute_hosts.register(ctx, name, 'az1')
        self.aggregates = []
        for number in range(1, 4):
            agg = manager.create_aggregate(ctx, 'agg%d' % number, 'az1')
            manager.add_host(ctx, agg['id'], 'host%d' % number)
            manager.set_metadata(ctx, agg['id'], {'k': 'v'})
            self.aggregates.append(agg['id'])
        # A pool aggregate with a rolling maintenance task (the server's
        # task runner runs it, and those the fuzzer starts).
        service.get_services().compute_hosts.register(ctx, 'host4', 'az1')
        pool = manager.create_aggregate(ctx, 'pool', 'az1')
        manager.set_metadata(ctx, pool['id'], {'hypervisor_pool': 'true'})
        manager.add_host(ctx, pool['id'], 'host4')
        self.tasks = [service.get_services().rolling_maintenance.create_task(
            ctx, pool['id'])['id']]

    def fuzz(self, operation, mode, path_parameters, stats,
             examples=EXAMPLES):
        failures = []

        headers = dict(HEADERS)
        if mode is modes.GenerationMode.NEGATIVE:
            # The microversion headers are fixed here: their "invalid"
            # values are not all errors (an OpenStack-API-Version without
            # a compute entry is for another service and ignored; the new
            # header wins over the old), which no schema can say.  Positive
            # runs generate them from the documented grammar.
            headers.update(VERSION_HEADERS)
        strategy = operation.as_strategy(
            generation_mode=mode, path_parameters=path_parameters,
            headers=headers)

        @hypothesis.settings(
            max_examples=examples, derandomize=True, database=None,
            deadline=None, print_blob=False,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck))
        @hypothesis.given(case=strategy)
        def run(case):
            response = case.call(base_url=self.base_url,
                                 headers=headers, timeout=30)
            stats[str(response.status_code)] += 1
            stats['requests'] += 1
            try:
                case.validate_response(response, checks=CHECKS,
                                       headers=headers)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: B902
                failures.append('%s %s (%s) -> %s %r\n%s' % (
                    case.method, case.formatted_path, mode.value,
                    response.status_code, response.content[:300],
                    str(exc)[:1500]))

        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # Negative mode on an operation with nothing to get wrong
            # (GET / takes no input).
            if mode is not modes.GenerationMode.NEGATIVE:
                raise
            stats['no-negative-cases'] += 1
        return failures

    def test_fuzz_both_surfaces(self):
        stats = collections.Counter()
        failures = []
        operations = [op.ok() for op in self.schema.get_all_operations()]
        for operation in operations:
            fixed = {}
            if '{project_id}' in operation.path:
                fixed['project_id'] = PROJECT
            variants = [dict(fixed)]
            if '{aggregate_id}' in operation.path:
                variants.append(dict(fixed, aggregate_id=self.aggregates[
                    len(stats) % len(self.aggregates)]))
            if '{task_id}' in operation.path:
                variants.append(dict(fixed, task_id=self.tasks[0]))
            for path_parameters in variants:
                for mode in (modes.GenerationMode.POSITIVE,
                             modes.GenerationMode.NEGATIVE):
                    failures += self.fuzz(operation, mode,
                                          path_parameters or None, stats)
        self.addDetail('fuzz', testtools.content.text_content(
            'operations: %d, requests: %d, by status: %s' % (
                len(operations), stats.pop('requests'),
                dict(sorted(stats.items())))))
        self.assertEqual([], failures[:20], '%d failures' % len(failures))
        self.assertNotIn('Traceback', self.server.output())
        self.assertFalse(re.search(r'status: 5\d\d', self.server.output()))

    def test_the_checks_catch_a_wrong_document(self):
        # The same run against a document that forgets one field of the
        # aggregate (additionalProperties stays false) must fail.
        with open(DOCUMENT) as f:
            doc = yaml.safe_load(f)
        aggregate = doc['components']['schemas']['Aggregate']
        del aggregate['properties']['deleted']
        aggregate['required'].remove('deleted')
        schema = schemathesis.openapi.from_dict(doc)
        operation = schema['/v2.1/os-aggregates/{aggregate_id}']['GET']
        failures = self.fuzz(operation, modes.GenerationMode.POSITIVE,
                             {'aggregate_id': self.aggregates[0]},
                             collections.Counter(), examples=2)
        self.assertTrue(failures)
        self.assertIn('deleted', failures[0])
