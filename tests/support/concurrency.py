"""Several calls released at the same moment, one thread each."""

import threading


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
