"""After ``make test``: one closing summary of the last stestr run.

Reads the run from ``stestr last --subunit`` and prints the tests that
failed (each with the last lines of its traceback), then, for the tests that
were skipped, how many and why (grouped by reason), then the totals. A
skip is never silent: a suite that needs a service this machine lacks says
which service and how to get it. The failures come last but for the skips,
so that a CI log cut to its tail still names them.
"""

import collections
import io
import subprocess
import sys

import subunit
import testtools


class _Outcomes(testtools.StreamResult):
    """The final status of every test, and the reason of each skip."""

    def __init__(self):
        super().__init__()
        self.outcomes = {}
        self.reasons = collections.defaultdict(bytes)
        self.tracebacks = collections.defaultdict(bytes)

    def status(self, test_id=None, test_status=None, file_name=None,
               file_bytes=None, **kwargs):
        if test_id is None:
            return
        if test_status in ('success', 'fail', 'skip', 'xfail', 'uxsuccess'):
            self.outcomes[test_id] = test_status
        if file_name == 'reason' and file_bytes:
            self.reasons[test_id] += file_bytes
        if file_name == 'traceback' and file_bytes:
            self.tracebacks[test_id] += file_bytes


def _last_lines(text, count=3):
    """The traceback's last lines (a mismatch's message spans a few), on
    one line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return ' | '.join(lines[-count:])[:400] or 'no traceback recorded'


def main():
    stream = subprocess.run([sys.executable, '-m', 'stestr', 'last',
                             '--subunit'], capture_output=True).stdout
    if not stream:
        print('test summary: no recorded run')
        return 0
    result = _Outcomes()
    subunit.ByteStreamToStreamResult(
        io.BytesIO(stream), non_subunit_name='stdout').run(result)
    counts = collections.Counter(result.outcomes.values())
    failed = sorted(test for test, status in result.outcomes.items()
                    if status in ('fail', 'uxsuccess'))
    if failed:
        print('Failed %d tests:' % len(failed))
        for test in failed:
            print('  %s' % test)
            print('      %s' % _last_lines(
                result.tracebacks[test].decode('utf-8', 'replace')))
    skipped = collections.Counter(
        result.reasons[test].decode('utf-8', 'replace').strip() or
        'no reason given'
        for test, status in result.outcomes.items() if status == 'skip')
    if skipped:
        print('Skipped %d tests:' % sum(skipped.values()))
        for reason, count in skipped.most_common():
            print('  %4d  %s' % (count, reason))
    print('%d passed, %d failed, %d skipped' % (
        counts['success'] + counts['xfail'],
        counts['fail'] + counts['uxsuccess'], counts['skip']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
