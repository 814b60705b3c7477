"""nova-aggregates-api as a server: what clients see on the wire when they
send too much or too slowly, and how it stops (nova_aggregates.cmd.worker,
BodySizeLimit in nova_aggregates.api.middleware)."""
