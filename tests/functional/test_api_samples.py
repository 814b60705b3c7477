"""API samples: the request/response files of doc/api_samples, replayed.

``doc/api_samples/scenario.json`` lists the steps in order.  Each step names
a sample (``<dir>/<name>``), a method, a path and a format; the request body
is ``<sample>-req.<format>`` if that file exists and the expected response
body is ``<sample>-resp.<format>`` (no file: the body must be empty).  The
whole list runs against one fresh in-process API (the paste pipeline of
etc/api-paste.ini, the xenapi driver and a simulated XenServer fleet of four
hosts, registered as xenhost1..4 in az1, az1, az2, az2) and every response
is compared with its sample: status, selected headers, and the body by
structure and value (JSON objects must have exactly the sample's keys; XML
elements the sample's tags, attributes, text, children and namespace
declarations).

Template syntax, in response samples, request samples and paths:

``%(kind)s``
    any value of that kind;
``%(kind:label)s``
    a value of that kind, bound to ``label`` where it first matches; later
    occurrences must be the same value, and requests and paths get it
    substituted.

Kinds: ``id`` (a positive integer), ``int`` (any integer), ``uuid``,
``timestamp`` (``2012-03-01T10:00:00.000000``), ``request_id``
(``req-<uuid>``) and ``text`` (anything).  In JSON a placeholder is written
either unquoted, standing for a whole non-string value (``"id": %(id:web)s``),
or inside a string (``"created_at": "%(timestamp)s"``, ``"message":
"Aggregate %(id:web)s could not be found."``).

doc/api-ref.md embeds every sample verbatim after a ``<!-- sample: FILE -->``
marker; this module checks those copies too, so neither the samples nor the
reference can drift from the behaviour.

To bootstrap a new step, add it to scenario.json, write its request file,
put a ``<!-- sample: FILE -->`` marker and an empty code block in
doc/api-ref.md, and run this module with ``NOVA_AGGREGATES_WRITE_SAMPLES=1``:
missing response files are written from the live responses (ids, uuids and
timestamps turned into placeholders) and the code blocks of api-ref.md are
refreshed from the files.  After an intended change of behaviour, delete
the response files concerned and do the same.  Review the result (labels in
messages are hand-made: ``Aggregate %(id:web)s ...``) before committing.
"""

import json
import os
import re
from xml.etree import ElementTree

from defusedxml import minidom as safe_minidom
import fixtures
import testtools

from nova_aggregates.xenserver_sim import Fleet
from tests import base
from tests.support.samples import Bindings
from tests.support.samples import compare_json
from tests.support.samples import compare_xml
from tests.support.samples import KINDS
from tests.support.samples import parse_json_template
from tests.support.samples import compare_string
from tests.support.samples import PLACEHOLDER
from tests.support.samples import TemplateError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SAMPLES_DIR = os.path.join(REPO, 'doc', 'api_samples')
SCENARIO = os.path.join(SAMPLES_DIR, 'scenario.json')
API_REF = os.path.join(REPO, 'doc', 'api-ref.md')
WRITE_ENV = 'NOVA_AGGREGATES_WRITE_SAMPLES'

#: The Host the samples are requested with: links read like `make serve`.
HOST = '127.0.0.1:8774'
ADMIN_TOKEN = 'admin:admin'
XENAPI_PASSWORD = 'secret'
#: host -> registered zone, as `make serve` registers them.
HOSTS = (('xenhost1', 'az1'), ('xenhost2', 'az1'), ('xenhost3', 'az2'),
         ('xenhost4', 'az2'))
#: ``[filter_scheduler] enabled_filters`` of the host matching samples
#: (doc/api-ref.md "Host matching" says so).
ENABLED_FILTERS = ['ComputeFilter', 'AggregateInstanceExtraSpecsFilter',
                   'AggregateMultiTenancyIsolation',
                   'AggregateNumInstancesFilter']

CONTENT_TYPES = {'json': 'application/json', 'xml': 'application/xml'}
SAMPLE_MARKER = re.compile(
    r'^<!-- sample: (?P<file>\S+) -->\n```[a-z]*\n(?P<body>.*?)^```$',
    re.MULTILINE | re.DOTALL)


def sample_path(name):
    return os.path.join(SAMPLES_DIR, name)


def read_sample(name):
    with open(sample_path(name), encoding='utf-8') as f:
        return f.read()


def load_scenario():
    with open(SCENARIO, encoding='utf-8') as f:
        return json.load(f)['steps']


def step_files(step):
    """(request file, response file) names of a step."""
    fmt = step.get('format', 'json')
    return ('%s-req.%s' % (step['sample'], fmt),
            '%s-resp.%s' % (step['sample'], fmt))


# -- writing new samples -------------------------------------------------------

_FULL = {kind: re.compile(pattern) for kind, (pattern, _) in KINDS.items()}


def _placeholder_for(value, key, owner_name, bindings):
    """The placeholder a generated sample uses for ``value``, or None."""
    text = str(value)
    if key == 'id' or _FULL['uuid'].fullmatch(text):
        for (kind, label), bound in bindings.values.items():
            if str(bound) == text and kind in ('id', 'uuid'):
                return '%%(%s:%s)s' % (kind, label)
    if key == 'id' and _FULL['id'].fullmatch(text):
        return ('%%(id:%s)s' % owner_name) if owner_name else '%(id)s'
    for kind in ('request_id', 'timestamp'):
        if _FULL[kind].fullmatch(text):
            return '%%(%s)s' % kind
    if _FULL['uuid'].fullmatch(text):
        if key == 'uuid' and owner_name:
            return '%%(uuid:%s)s' % owner_name
        if key and key.startswith('xenapi_host_uuid:'):
            return '%%(uuid:%s)s' % key.split(':', 1)[1]
        return '%(uuid)s'
    return None


def json_sample_text(body, bindings):
    """A decoded body as a sample: placeholders for variable values."""
    bare = []

    def walk(value, key=None, owner_name=None):
        if isinstance(value, dict):
            name = value.get('name') if isinstance(value.get('name'),
                                                   str) else None
            return {k: walk(v, k, name) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, None, owner_name) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        placeholder = _placeholder_for(value, key, owner_name, bindings)
        if placeholder is None:
            return value
        if isinstance(value, int):
            bare.append(placeholder)
            return '\x00bare:%d' % (len(bare) - 1)
        return placeholder
    text = json.dumps(walk(body), indent=4)
    for number, placeholder in enumerate(bare):
        text = text.replace('"\\u0000bare:%d"' % number, placeholder)
    return text + '\n'


def xml_sample_text(body, bindings):
    document = safe_minidom.parseString(body)

    def walk(node, owner_name=None):
        names = [c for c in node.childNodes
                 if c.nodeType == c.ELEMENT_NODE and c.tagName == 'name']
        if names and names[0].firstChild is not None:
            owner_name = names[0].firstChild.data
        if node.hasAttribute('name'):
            owner_name = node.getAttribute('name')
        for attr in list(node.attributes.values()):
            placeholder = _placeholder_for(attr.value, attr.name, owner_name,
                                           bindings)
            if placeholder is not None:
                node.setAttribute(attr.name, placeholder)
        for child in node.childNodes:
            if child.nodeType == child.TEXT_NODE:
                placeholder = _placeholder_for(child.data.strip(),
                                               node.tagName, owner_name,
                                               bindings)
                if placeholder is not None:
                    child.data = placeholder
            elif child.nodeType == child.ELEMENT_NODE:
                walk(child, owner_name)
    walk(document.documentElement)
    text = document.documentElement.toprettyxml(indent='    ')
    return "<?xml version='1.0' encoding='UTF-8'?>\n" + text


def refresh_api_ref(reference):
    """Copy every sample into the code block after its marker."""
    def fill(match):
        name = match.group('file')
        language = 'xml' if name.endswith('.xml') else 'json'
        if not os.path.exists(sample_path(name)):
            return match.group(0)
        return '<!-- sample: %s -->\n```%s\n%s\n```' % (
            name, language, read_sample(name).rstrip('\n'))
    return SAMPLE_MARKER.sub(fill, reference)


# -- the replay ----------------------------------------------------------------

class FleetFixture(fixtures.Fixture):
    """A simulated XenServer fleet with short join/eject delays."""

    def _setUp(self):
        self.fleet = Fleet(hosts=len(HOSTS), username='root',
                           password=XENAPI_PASSWORD, bind_address='127.0.0.1',
                           port=0, join_delay=0.02, eject_delay=0.02)
        self.fleet.start()
        self.addCleanup(self.fleet.stop)


class TestAPISamples(base.APITestCase):
    """Replays doc/api_samples/scenario.json against the in-process API."""

    compute_driver = 'xenapi'

    def setUp(self):
        super().setUp()
        self.fleet = self.useFixture(FleetFixture()).fleet
        for name, value in (('connection_username', 'root'),
                            ('connection_password', XENAPI_PASSWORD),
                            ('connect_timeout', 5.0), ('call_timeout', 10.0),
                            ('join_timeout', 10.0), ('poll_interval', 0.01)):
            self.conf_fixture.config(**{name: value, 'group': 'xenapi'})
        self.conf_fixture.config(enabled_filters=ENABLED_FILTERS,
                                 group='filter_scheduler')
        # The driver's XenAPI sessions go before the fleet stops.
        from nova_aggregates import service
        self.addCleanup(service.reset)
        for (name, zone), host in zip(HOSTS, self.fleet.hosts):
            self.assertEqual(name, host.name)
            self.api.register_host(name, zone, host.url)
        self.write = bool(os.environ.get(WRITE_ENV))

    def _simulate(self, actions):
        for action, spec in actions.items():
            if action == 'inject':
                self.fleet.inject(**spec)
            elif action == 'settle':
                self.assertTrue(self.fleet.settle(spec))
            elif action == 'run_tasks':
                # The task runner's one look: queued tasks run to their end.
                self.api.services.task_runner().run_once(wait=True)
            else:
                raise TemplateError('unknown simulator action %s' % action)

    def _replay(self, step, bindings):
        fmt = step.get('format', 'json')
        request_file, response_file = step_files(step)
        self._simulate(step.get('simulator', {}))
        body = None
        if os.path.exists(sample_path(request_file)):
            body = bindings.substitute(read_sample(request_file))
        headers = {'Host': HOST}
        headers.update((name, bindings.substitute(value))
                       for name, value in step.get('headers', {}).items())
        response = self.api.request(
            step['method'], bindings.substitute(step['path']), body,
            token=step.get('token', ADMIN_TOKEN), headers=headers,
            content_type=step.get('content_type', CONTENT_TYPES[fmt])
            if body is not None else None)

        errors = []
        status = step.get('status', 200)
        if response.status_int != status:
            errors.append('status %d, expected %d' % (response.status_int,
                                                      status))
        request_id = response.headers.get('x-compute-request-id', '')
        if not _FULL['request_id'].fullmatch(request_id):
            errors.append('x-compute-request-id %r' % request_id)
        for name, template in step.get('response_headers', {}).items():
            errors.extend(compare_string(
                template, response.headers.get(name, '<absent>'), bindings,
                'header %s' % name))
        if not os.path.exists(sample_path(response_file)):
            if response.body and self.write:
                self._write(response_file, fmt, response.body, bindings)
            elif response.body:
                errors.append('body %r, but %s does not exist' % (
                    response.body[:300], response_file))
            return errors
        if response.content_type != CONTENT_TYPES[fmt]:
            errors.append('Content-Type %s' % response.content_type)
            return errors
        template = read_sample(response_file)
        if fmt == 'xml':
            return errors + compare_xml(template, response.body, bindings)
        try:
            actual = json.loads(response.body)
        except ValueError:
            return errors + ['body is not JSON: %r' % response.body[:300]]
        return errors + compare_json(parse_json_template(template), actual,
                                     bindings)

    def _write(self, response_file, fmt, body, bindings):
        if fmt == 'xml':
            text = xml_sample_text(body, bindings)
        else:
            text = json_sample_text(json.loads(body), bindings)
        os.makedirs(os.path.dirname(sample_path(response_file)),
                    exist_ok=True)
        with open(sample_path(response_file), 'w', encoding='utf-8') as f:
            f.write(text)
        # Bind the new sample's labels for the steps that follow.
        if fmt == 'xml':
            compare_xml(text, body, bindings)
        else:
            compare_json(parse_json_template(text), json.loads(body),
                         bindings)

    def test_scenario(self):
        bindings = Bindings()
        failures = []
        for number, step in enumerate(load_scenario(), 1):
            try:
                errors = self._replay(step, bindings)
            except TemplateError as exc:
                errors = ['sample error: %s' % exc]
            if errors:
                failures.append('step %d %s %s (%s):\n    %s' % (
                    number, step['method'], step['path'], step['sample'],
                    '\n    '.join(errors)))
        if failures:
            self.fail('%d of the API samples do not match the API:\n%s' % (
                len(failures), '\n'.join(failures)))


class TestSampleFiles(testtools.TestCase):
    """The scenario, the sample files and doc/api-ref.md agree."""

    def _all_sample_files(self):
        found = set()
        for root, _, files in os.walk(SAMPLES_DIR):
            for name in files:
                found.add(os.path.relpath(os.path.join(root, name),
                                          SAMPLES_DIR))
        found.discard('scenario.json')
        return found

    def _used_files(self):
        used = set()
        for step in load_scenario():
            for name in step_files(step):
                if os.path.exists(sample_path(name)):
                    used.add(name)
        return used

    def test_every_sample_file_is_replayed(self):
        unused = self._all_sample_files() - self._used_files()
        self.assertEqual(set(), unused, 'sample files no step replays')

    def test_steps_are_well_formed(self):
        known = {'sample', 'method', 'path', 'format', 'headers', 'token',
                 'status', 'response_headers', 'simulator', 'content_type'}
        for step in load_scenario():
            self.assertEqual(set(), set(step) - known, step)
            self.assertIn(step.get('format', 'json'), CONTENT_TYPES)
            self.assertIn(step['method'], ('GET', 'POST', 'PUT', 'DELETE',
                                           'PATCH'))
            self.assertTrue(step['path'].startswith('/'), step)

    def test_samples_parse(self):
        for name in sorted(self._all_sample_files()):
            text = read_sample(name)
            for match in PLACEHOLDER.finditer(text):
                self.assertIn(match.group('kind'), KINDS,
                              '%s: %s' % (name, match.group(0)))
            if name.endswith('.json'):
                parse_json_template(text)
            elif name.endswith('.xml'):
                ElementTree.fromstring(text.encode('utf-8'))
            else:
                self.fail('%s: samples are .json or .xml files' % name)

    def test_api_ref_embeds_every_sample_verbatim(self):
        with open(API_REF, encoding='utf-8') as f:
            reference = f.read()
        if os.environ.get(WRITE_ENV):
            reference = refresh_api_ref(reference)
            with open(API_REF, 'w', encoding='utf-8') as f:
                f.write(reference)
        embedded = set()
        for match in SAMPLE_MARKER.finditer(reference):
            name = match.group('file')
            self.assertTrue(os.path.exists(sample_path(name)),
                            'api-ref.md embeds a missing sample %s' % name)
            self.assertEqual(read_sample(name).rstrip('\n'),
                             match.group('body').rstrip('\n'),
                             'api-ref.md shows %s differently' % name)
            embedded.add(name)
        self.assertEqual(set(), self._all_sample_files() - embedded,
                         'samples api-ref.md does not show')


class TestTemplateMatching(testtools.TestCase):
    """The comparison itself: drift must not slip through."""

    def _compare(self, template, actual, bindings=None):
        return compare_json(parse_json_template(template), actual,
                            bindings or Bindings())

    def test_placeholders_bind_and_must_agree(self):
        bindings = Bindings()
        template = ('{"id": %(id:web)s, "uuid": "%(uuid:web)s", '
                    '"message": "Aggregate %(id:web)s is gone", '
                    '"at": "%(timestamp)s"}')
        uuid = '0a8c3c3e-3d38-4b8e-9c1e-0d1e7f6b5a21'
        self.assertEqual([], self._compare(template, {
            'id': 7, 'uuid': uuid, 'message': 'Aggregate 7 is gone',
            'at': '2012-03-01T10:00:00.000000'}, bindings))
        self.assertEqual({('id', 'web'): 7, ('uuid', 'web'): uuid},
                         bindings.values)
        self.assertEqual('/os-aggregates/7',
                         bindings.substitute('/os-aggregates/%(id:web)s'))
        # Once bound, a label stands for that value only.
        self.assertNotEqual([], self._compare('{"id": %(id:web)s}',
                                              {'id': 8}, bindings))

    def test_structure_and_types_are_strict(self):
        cases = [
            ('{"a": 1}', {'a': 1, 'b': 2}),        # unexpected key
            ('{"a": 1, "b": 2}', {'a': 1}),        # missing key
            ('{"a": 1}', {'a': '1'}),              # type
            ('{"a": false}', {'a': 0}),            # bool is no int
            ('{"a": [1, 2]}', {'a': [2, 1]}),      # order
            ('{"a": %(id)s}', {'a': '5'}),         # bare means no string
            ('{"a": "%(timestamp)s"}', {'a': '2012-03-01 10:00:00'}),
            ('{"a": "%(uuid)s"}', {'a': None}),
        ]
        for template, actual in cases:
            self.assertNotEqual([], self._compare(template, actual),
                                (template, actual))

    def test_sample_errors_are_reported(self):
        self.assertRaises(TemplateError, self._compare, '{"a": "%(nope)s"}',
                          {'a': 'x'})
        self.assertRaises(TemplateError, self._compare, '{"a": %(uuid)s}',
                          {'a': 'x'})
        self.assertRaises(TemplateError, Bindings().substitute,
                          '/os-aggregates/%(id:never)s')

    def test_xml_tags_attributes_text_and_namespaces(self):
        template = ('<e xmlns="urn:a" code="%(int)s"><m>Aggregate '
                    '%(id:x)s</m></e>')
        good = b'<e xmlns="urn:a" code="404"><m>Aggregate 3</m></e>'
        bindings = Bindings()
        self.assertEqual([], compare_xml(template, good, bindings))
        self.assertEqual(3, bindings.values['id', 'x'])
        for bad in (b'<e xmlns="urn:b" code="404"><m>Aggregate 3</m></e>',
                    b'<e xmlns="urn:a"><m>Aggregate 3</m></e>',
                    b'<e xmlns="urn:a" code="404"><m>Aggregate 4</m></e>',
                    b'<e xmlns="urn:a" code="404"><m>Aggregate 3</m><n/></e>',
                    b'<e xmlns="urn:a" xmlns:x="urn:x" code="404">'
                    b'<m>Aggregate 3</m></e>',
                    b'not xml'):
            self.assertNotEqual([], compare_xml(template, bad, bindings), bad)
