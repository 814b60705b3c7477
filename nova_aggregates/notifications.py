"""Notifications of what the service does, for the rest of a cloud.

``Notifier.info(context, event_type, payload)`` emits one notification.
Until a message bus is configured it is a log line of logger
``nova_aggregates.notifications`` (INFO, the event type and the payload as
JSON), so operators can follow tasks in the log.
"""

import json
import logging

LOG = logging.getLogger(__name__)


class Notifier:

    def __init__(self, publisher_id='nova-aggregates'):
        self.publisher_id = publisher_id

    def info(self, context, event_type, payload):
        LOG.info('%s %s', event_type, json.dumps(payload, default=str,
                                                 sort_keys=True))
