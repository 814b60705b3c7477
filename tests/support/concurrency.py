"""Several calls released at the same moment: threads, or processes."""

import multiprocessing
import threading
import time


def at_once(calls, timeout=60):
    """Run every callable of ``calls`` in a thread of its own, all released
    together by a barrier; return their results in the order of ``calls``.

    An exception a call raises (or a barrier that broke because a thread
    did not arrive within ``timeout`` seconds) takes the place of its
    result, for the test to judge.
    """
    calls = list(calls)
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout)
            results[index] = call()
        except Exception as exc:  # noqa: B902 - reported to the caller
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index, call), daemon=True)
               for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 5)
    return results


def processes_at_once(target, arg_tuples, result_timeout, ready_timeout=120):
    """Run ``target(*args, ready, go, results)`` in one process per tuple
    of ``arg_tuples`` (so that no GIL serializes them), released together.

    Each process puts True (or False: it failed) on ``ready`` once set up,
    waits for the Event ``go``, then puts one item on ``results``.  Returns
    the items (in the order they came) and the seconds from ``go`` until
    the last one; ``queue.Empty`` if a process stays silent beyond
    ``ready_timeout`` or ``result_timeout``.  Processes still alive at the
    end are joined, then terminated.
    """
    # fork: cheap to start (the caller holds no threads or database
    # connections at this point); spawn where fork does not exist.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context('fork' if 'fork' in methods
                                      else 'spawn')
    ready, results = ctx.Queue(), ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=target, args=tuple(args) + (
        ready, go, results), daemon=True) for args in arg_tuples]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            if not ready.get(timeout=ready_timeout):
                break
        go.set()
        started = time.perf_counter()
        items = [results.get(timeout=result_timeout) for _ in procs]
        return items, time.perf_counter() - started
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
