"""Plumbing shared by the test suites and the benchmarks.

``process``
    server subprocesses: configuration files, free ports, start in a
    process group of its own, wait until it answers, stop, log capture;
``concurrency``
    run several callables released at the same moment;
``http``
    one small HTTP client for real servers;
``samples``
    the template matcher of the API samples;
``sql``
    counting the SQL statements an engine runs.

Nothing here imports the service at module level, so the benchmarks can
load it before they configure anything.
"""
