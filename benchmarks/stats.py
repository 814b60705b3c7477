"""Small statistics helpers (no numpy: the figures must be reproducible
with nothing but the project's virtualenv)."""

import math


def percentile(values, fraction):
    """Nearest-rank percentile of ``values`` (fraction in [0, 1])."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values):
    """The usual median (mean of the two middle values for even counts)."""
    if not values:
        return float('nan')
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2.0


def summarize(latencies):
    """count, ops/s (1 / mean latency of one client), median, p99, min, max
    -- latencies in seconds in, figures in milliseconds out."""
    count = len(latencies)
    total = sum(latencies)
    return {
        'count': count,
        'ops_per_s': count / total if total else float('nan'),
        'median_ms': median(latencies) * 1000.0,
        'p99_ms': percentile(latencies, 0.99) * 1000.0,
        'min_ms': min(latencies) * 1000.0 if latencies else float('nan'),
        'max_ms': max(latencies) * 1000.0 if latencies else float('nan'),
    }


class Recorder:
    """Latencies (and optional per-request numbers) grouped by operation."""

    def __init__(self):
        self.latencies = {}
        self.extra = {}
        self.order = []
        #: op -> [server CPU seconds, requests] measured over spans of its
        #: requests (``add_cpu``).
        self.cpu = {}

    def add(self, op, seconds, **extra):
        if op not in self.latencies:
            self.latencies[op] = []
            self.extra[op] = []
            self.order.append(op)
        self.latencies[op].append(seconds)
        if extra:
            self.extra[op].append(extra)

    def add_cpu(self, op, seconds, requests):
        """The server's CPU time over a run of ``requests`` of ``op``."""
        spent = self.cpu.setdefault(op, [0.0, 0])
        spent[0] += seconds
        spent[1] += requests

    def summary(self):
        result = {}
        for op in self.order:
            result[op] = summarize(self.latencies[op])
            cpu = [e['server_cpu_s'] for e in self.extra[op]
                   if e.get('server_cpu_s') is not None]
            seconds, requests = self.cpu.get(op, (sum(cpu), len(cpu)))
            if requests:
                # Robust to a busy machine: time on CPU, not waiting for it.
                result[op]['server_cpu_ms'] = 1000.0 * seconds / requests
        return result
