"""Importing our commands prints nothing on its own."""

import subprocess
import sys

import testtools


class QuietImportsTest(testtools.TestCase):

    def test_no_warning_from_the_libraries_underneath(self):
        # oslo.messaging and tooz pull in eventlet, whose import warned in
        # every command's output and in the server's log.
        result = subprocess.run(
            [sys.executable, '-c',
             'import nova_aggregates.notifications, '
             'nova_aggregates.coordination, nova_aggregates.cmd.manage, '
             'nova_aggregates.cmd.api'],
            capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual('', result.stderr)
