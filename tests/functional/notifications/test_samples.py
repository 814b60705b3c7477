"""Notification samples: doc/notifications/<event type>.json, replayed.

Each sample is one notification as a consumer gets it (priority,
event_type, publisher_id, payload, message_id, timestamp), in the template
syntax of the API samples (tests/functional/test_api_samples.py:
``%(kind)s``, ``%(kind:label)s``; a label binds where it first matches and
must match the same value everywhere after).  One scenario through the
HTTP API and the machine's RabbitMQ emits every event type; the first
notification of each type is compared with its sample.  oslo.messaging
writes ``timestamp`` as ``str(datetime)`` (``2012-03-01 10:00:00.000000``);
it is compared in the API's form (``%(timestamp)s``, a ``T`` in the
middle) after a check that it is one.

To write the sample of a new event type, run this module with
``NOVA_AGGREGATES_WRITE_SAMPLES=1``: missing files are written from the
live notifications (the scenario's ids, uuids and times turned into
placeholders).  Review them before committing; after an intended change,
delete the files concerned and do the same.
"""

import datetime
import json
import os

from nova_aggregates import constants
from tests.functional.notifications import base
from tests.support.samples import Bindings
from tests.support.samples import compare_json
from tests.support.samples import parse_json_template

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SAMPLES_DIR = os.path.join(REPO, 'doc', 'notifications')
WRITE_ENV = 'NOVA_AGGREGATES_WRITE_SAMPLES'
#: Every event type we emit (api-contract §16), each with its sample.
EVENT_TYPES = sorted(
    ['aggregate.%s.%s' % (action, phase)
     for action in ('create', 'update_prop', 'update_metadata', 'add_host',
                    'remove_host', 'delete')
     for phase in ('start', 'end')] +
    ['host.maintenance.%s' % phase for phase in ('start', 'end', 'error')] +
    ['rolling_maintenance.%s' % phase
     for phase in ('start', 'host', 'end', 'error')])
#: The keys of a message, in the samples' order.
MESSAGE_KEYS = ('priority', 'event_type', 'publisher_id', 'payload',
                'message_id', 'timestamp')
TIME_KEYS = ('timestamp', 'started_at', 'finished_at')


def sample_path(event_type):
    return os.path.join(SAMPLES_DIR, event_type + '.json')


def normalised(message):
    """``message`` with its timestamp in the API's form."""
    stamp = datetime.datetime.fromisoformat(message['timestamp'])
    return dict(message, timestamp=stamp.isoformat(timespec='microseconds'))


#: The id a key of our payloads names.
ID_KEYS = {'id': 'aggregate', 'aggregate_id': 'aggregate',
           'task_id': 'task'}


def sample_text(message, labels):
    """A notification as a sample: ``labels`` maps ``('aggregate', id)``,
    ``('task', id)`` and ``('uuid', uuid)`` of the scenario to
    placeholders; times, message ids and our host name become
    placeholders too."""
    bare = []

    def template(value, key=None):
        if isinstance(value, dict):
            return {k: template(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [template(v) for v in value]
        if key in TIME_KEYS and value is not None:
            return '%(timestamp)s'
        if key == 'message_id':
            return '%(uuid)s'
        if key == 'publisher_id':
            return 'nova-aggregates-api:%(text:host)s'
        if (ID_KEYS.get(key), value) in labels:
            bare.append(labels[ID_KEYS[key], value])
            return '\x00bare%d' % (len(bare) - 1)
        if isinstance(value, str):
            for (kind, known), placeholder in labels.items():
                if kind == 'uuid':
                    value = value.replace(known, placeholder)
        return value
    ordered = {key: message[key] for key in MESSAGE_KEYS}
    text = json.dumps(template(ordered), indent=4) + '\n'
    for number, placeholder in enumerate(bare):
        text = text.replace('"\\u0000bare%d"' % number, placeholder)
    return text


class TestNotificationSamples(base.BrokerTestCase):

    def setUp(self):
        super().setUp()
        self.driver = self.api.services.aggregates.driver
        for host in ('host1', 'host2', 'host3'):
            self.api.register_host(host, zone='az1')
        #: (kind, value) -> placeholder, for writing samples.
        self.labels = {}

    def label(self, kind, value, placeholder):
        self.labels[kind, value] = placeholder
        return value

    def hosts(self, agg_id, action, *hosts):
        for host in hosts:
            self.action(agg_id, action, {'host': host})

    def maintenance(self, host, mode, expected=200):
        response = self.request('PUT', '/v2.1/os-hosts/%s' % host,
                                {'maintenance_mode': mode})
        self.assertEqual(expected, response.status_int, response.body)

    def rolling(self, **values):
        task = self.json_request('POST', '/v2.1/os-rolling-maintenance', {
            'rolling_maintenance': values}, expected=202)
        self.api.services.task_runner().run_once(wait=True)
        return task['rolling_maintenance']['id']

    def scenario(self):
        """Every event type, in a plausible order of an operator's day."""
        agg = self.json_request('POST', '/v2.1/os-aggregates', {
            'aggregate': {'name': 'rack', 'availability_zone': 'az1'}},
            headers=base.V2_41)['aggregate']
        agg_id = self.label('aggregate', agg['id'], '%(id:rack)s')
        self.label('uuid', agg['uuid'], '%(uuid:rack)s')
        self.json_request('PUT', '/v2.1/os-aggregates/%d' % agg_id,
                          {'aggregate': {'name': 'rack-a'}})
        self.action(agg_id, 'set_metadata',
                    {'metadata': {constants.POOL_FLAG: 'true'}})
        self.hosts(agg_id, 'add_host', 'host1', 'host2', 'host3')
        web = self.label('uuid', self.driver.add_guest('host2', 'web', 2048),
                         '%(uuid:web)s')
        self.maintenance('host2', 'enable')
        self.maintenance('host2', 'disable')
        self.driver.set_power_state(web, 'Paused')
        self.maintenance('host2', 'enable', expected=409)
        self.driver.set_power_state(web, 'Running')
        self.label('task', self.rolling(aggregate_id=agg_id,
                                        hosts=['host2']), '%(id:task)s')
        self.conf_fixture.config(host_command='false', group='maintenance')
        self.label('task', self.rolling(aggregate_id=agg_id,
                                        hosts=['host3'],
                                        host_action='command'),
                   '%(id:failed_task)s')
        self.maintenance('host3', 'disable')
        self.hosts(agg_id, 'remove_host', 'host3', 'host2', 'host1')
        self.json_request('DELETE', '/v2.1/os-aggregates/%d' % agg_id)

    def test_every_event_type_matches_its_sample(self):
        self.scenario()
        first = {}
        for message in self.drain():
            first.setdefault(message['event_type'], message)
        self.assertEqual(EVENT_TYPES, sorted(first))
        bindings = Bindings()
        errors = []
        # In the order they were sent: labels bind where they first occur.
        for event_type, message in sorted(
                first.items(), key=lambda item: item[1]['timestamp']):
            path = sample_path(event_type)
            if os.environ.get(WRITE_ENV) and not os.path.exists(path):
                with open(path, 'w', encoding='utf-8') as f:
                    f.write(sample_text(message, self.labels))
            with open(path, encoding='utf-8') as f:
                template = parse_json_template(f.read())
            errors += ['%s: %s' % (event_type, error) for error in
                       compare_json(template, normalised(message), bindings,
                                    'notification')]
        self.assertEqual([], errors)
        # No sample of an event that is not emitted.
        self.assertEqual(EVENT_TYPES, sorted(
            name[:-len('.json')] for name in os.listdir(SAMPLES_DIR)
            if name.endswith('.json')))
