#!/usr/bin/env bash
# Install (Debian package), start and check the RabbitMQ broker of the
# notification tests (tests/functional/notifications): the package's node
# on 127.0.0.1:5672 with RabbitMQ's default user guest/guest (admitted from
# loopback only), the broker tests/support/rabbitmq.py expects
# (NOVA_AGGREGATES_RABBIT_URL names another).  Needs root; idempotent;
# exits non-zero unless the node has booted at the end.
#
# tests/functional/notifications/test_broker_restart.py runs a private node
# of its own from the same package (its own ports, data and cookie) that it
# stops and starts.
set -euo pipefail

if ! command -v rabbitmq-server >/dev/null \
        || ! command -v rabbitmq-diagnostics >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rabbitmq-server >/dev/null
fi

# No init system in containers: the package's node runs detached (the
# wrapper in /usr/sbin runs it as the rabbitmq user).
if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
    # AMQP on loopback only: guest/guest is a test account.
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 rabbitmq-server -detached
    for _ in $(seq 1 60); do
        rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break
        sleep 1
    done
fi
# Up is not booted: wait until it accepts clients.
if ! rabbitmqctl -q await_startup --timeout 60 >/dev/null; then
    echo "RabbitMQ did not finish starting (see /var/log/rabbitmq)" >&2
    exit 1
fi
echo "rabbitmq ready: $(rabbitmqctl -q version)"
