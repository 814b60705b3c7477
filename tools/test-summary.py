"""After ``make test``: one closing summary of the last stestr run.

Reads the run from ``stestr last --subunit`` and prints, for the tests that
were skipped, how many and why (grouped by reason), then the totals. A
skip is never silent: a suite that needs a service this machine lacks says
which service and how to get it.
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

    def status(self, test_id=None, test_status=None, file_name=None,
               file_bytes=None, **kwargs):
        if test_id is None:
            return
        if test_status in ('success', 'fail', 'skip', 'xfail', 'uxsuccess'):
            self.outcomes[test_id] = test_status
        if file_name == 'reason' and file_bytes:
            self.reasons[test_id] += file_bytes


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
