"""Admin endpoint: a small JSON HTTP API mirroring the Fleet's Python control
calls.

It is deliberately not on the XenAPI wire, so drivers under test cannot reach
it by accident.  Routes (all bodies and answers are JSON):

    GET    /hosts                  host states (list)
    GET    /hosts/<name>           one host state
    POST   /hosts/<name>/stop      endpoint refuses connections
    POST   /hosts/<name>/start     endpoint comes back on the same URL (also
                                    ends a never_back reboot)
    POST   /hosts/<name>/vms       {"name": "guest", "running": true,
                                    "memory": bytes}
    POST   /hosts/<name>/password  {"password": "new"}
    POST   /hosts/<name>/config    {"software_version": {...},
                                    "cpu_vendor": "...",
                                    "api_version": "2.21", "memory": bytes,
                                    "shared_sr": true, "cpus": 8,
                                    "disk": bytes, "disk_used": bytes,
                                    "reboot_delay": seconds}
    GET    /vms                    guest VMs: where each runs (list)
    DELETE /vms/<uuid>             destroy a guest VM (hard shutdown first)
    GET    /pools                  pools (list)
    GET    /faults                 active fault rules
    POST   /faults                 inject() keyword arguments
                                    -> {"id": rule_id}
    DELETE /faults                 remove all rules
    DELETE /faults/<id>            remove one rule
    GET    /calls                  [{"host": name, "method": name}, ...]
    DELETE /calls                  clear the call log
    GET    /logins                 {"<host name>": successful password logins}
    POST   /settle                 {"timeout": seconds} wait for pending
                                    joins/ejects
"""

import json
import logging

from nova_aggregates.xenserver_sim import server

LOG = logging.getLogger(__name__)


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class ControlHandler(server.QuietHandler):
    server_version = 'xenserver-sim-control/1'
    sys_version = ''

    def do_GET(self):
        self._dispatch('GET')

    def do_POST(self):
        self._dispatch('POST')

    def do_DELETE(self):
        self._dispatch('DELETE')

    def _dispatch(self, verb):
        fleet = self.server.context
        try:
            body = self._json_body() if verb == 'POST' else {}
            parts = [p for p in self.path.split('?', 1)[0].split('/') if p]
            status, result = route(fleet, verb, parts, body)
        except ControlError as exc:
            status, result = exc.status, {'error': exc.message}
        except (ValueError, TypeError) as exc:
            status, result = 400, {'error': str(exc)}
        except KeyError as exc:
            status, result = 404, {'error': 'not found: %s' % exc.args[0]}
        data = json.dumps(result, sort_keys=True).encode('utf-8')
        self.send_body(status, 'application/json', data)

    def _json_body(self):
        raw = self.read_body()
        if raw is None:
            raise ControlError(400, 'bad Content-Length')
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise ControlError(400, 'body is not JSON')
        if not isinstance(body, dict):
            raise ControlError(400, 'body must be a JSON object')
        return body


def route(fleet, verb, parts, body):
    """Map (verb, path parts) to a Fleet call; returns (status, JSON-able
    result)."""
    if parts == ['pools'] and verb == 'GET':
        return 200, fleet.pools()
    if parts == ['vms'] and verb == 'GET':
        return 200, fleet.vms()
    if len(parts) == 2 and parts[0] == 'vms' and verb == 'DELETE':
        try:
            removed = fleet.remove_vm(parts[1])
        except ValueError as exc:
            raise ControlError(409, str(exc))
        if not removed:
            raise ControlError(404, 'no such VM')
        return 200, {}
    if parts == ['hosts'] and verb == 'GET':
        return 200, fleet.host_states()
    if parts[:1] == ['hosts'] and len(parts) >= 2:
        name = parts[1]
        fleet.host(name)  # KeyError -> 404
        if len(parts) == 2 and verb == 'GET':
            return 200, fleet.host_state(name)
        if len(parts) == 3 and verb == 'POST':
            action = parts[2]
            if action == 'stop':
                fleet.stop_host(name)
                return 200, fleet.host_state(name)
            if action == 'start':
                fleet.start_host(name)
                return 200, fleet.host_state(name)
            if action == 'vms':
                uuid = fleet.add_vm(
                    name,
                    name=body.get('name', 'guest'),
                    running=bool(body.get('running', True)),
                    memory=body.get('memory'),
                )
                return 201, {'uuid': uuid}
            if action == 'password':
                if not isinstance(body.get('password'), str):
                    raise ControlError(400, 'password (string) required')
                fleet.set_password(name, body['password'])
                return 200, fleet.host_state(name)
            if action == 'config':
                fleet.configure_host(name, **body)
                return 200, fleet.host_state(name)
    if parts == ['faults']:
        if verb == 'GET':
            return 200, fleet.faults()
        if verb == 'POST':
            return 201, {'id': fleet.inject(**body)}
        if verb == 'DELETE':
            fleet.clear_faults()
            return 200, {}
    if len(parts) == 2 and parts[0] == 'faults' and verb == 'DELETE':
        try:
            rule_id = int(parts[1])
        except ValueError:
            raise ControlError(404, 'no such rule')
        if not fleet.remove_fault(rule_id):
            raise ControlError(404, 'no such rule')
        return 200, {}
    if parts == ['calls']:
        if verb == 'GET':
            return 200, [{'host': h, 'method': m} for h, m in fleet.call_log()]
        if verb == 'DELETE':
            fleet.clear_call_log()
            return 200, {}
    if parts == ['logins'] and verb == 'GET':
        return 200, {h.name: fleet.login_count(h.name) for h in fleet.hosts}
    if parts == ['settle'] and verb == 'POST':
        return 200, {'settled': fleet.settle(float(body.get('timeout', 5.0)))}
    raise ControlError(404, 'no route for %s /%s' % (verb, '/'.join(parts)))
