"""Reproducible performance benchmarks of nova-aggregates.

``make bench`` (``python -m benchmarks.run``) starts real servers on free
loopback ports, drives a fixed, seeded workload over HTTP, verifies every
answer and prints latency, throughput, SQL statements and XenAPI calls per
operation.  See doc/performance.md.
"""
