"""Real OpenStack clients (openstackclient, novaclient) against the real
server process: ``nova-aggregates-api`` on a free loopback port."""
