"""nova-aggregates-manage maintenance watch: the progress line, the
summary, redrawing on a terminal and the exit status."""

import io

import testtools

from nova_aggregates.cmd import watch


def host(name, state, moved=0, message=None):
    return {'host': name, 'state': state, 'guests_moved': moved,
            'message': message, 'started_at': None, 'finished_at': None}


def task(state, *hosts):
    return {'id': 3, 'aggregate_id': 7, 'state': state,
            'host_action': 'reboot', 'hosts': list(hosts)}


class FakeManager:

    def __init__(self, tasks):
        self.tasks = list(tasks)

    def get_task(self, context, task_id):
        return self.tasks.pop(0) if len(self.tasks) > 1 else self.tasks[0]


class TestWatch(testtools.TestCase):

    def test_progress_line(self):
        self.assertEqual(
            '[############------------] host 3/4 c: acting | guests moved 3 '
            '| running',
            watch.progress_line(task('running', host('a', 'done', 1),
                                     host('b', 'done', 2),
                                     host('c', 'acting'),
                                     host('d', 'pending'))))
        self.assertEqual(
            '[########################] all 2 hosts done | guests moved 0 | '
            'succeeded',
            watch.progress_line(task('succeeded', host('a', 'done'),
                                     host('b', 'done'))))
        self.assertIn('host 1/2 a: pending',
                      watch.progress_line(task('queued', host('a', 'pending'),
                                               host('b', 'pending'))))

    def run_watch(self, tasks, tty):
        out = io.StringIO()
        sleeps = []
        status = watch.watch(FakeManager(tasks), None, 3, out=out, tty=tty,
                             sleep=sleeps.append)
        return status, out.getvalue(), sleeps

    def test_pipe_prints_each_change_then_the_summary(self):
        running = task('running', host('a', 'evacuating'), host('b',
                                                                'pending'))
        status, text, sleeps = self.run_watch(
            [running, running, task('failed', host('a', 'failed', 1,
                                                   'reboot refused'),
                                    host('b', 'pending'))], tty=False)
        self.assertEqual(1, status)
        lines = text.splitlines()
        self.assertEqual(2, sum(1 for line in lines if line.startswith('[')))
        self.assertIn('Rolling maintenance task 3 of aggregate 7 (reboot): '
                      'failed', lines)
        self.assertIn('  a     failed     guests moved 1  reboot refused', lines)
        self.assertEqual(2, len(sleeps))

    def test_terminal_redraws_in_place(self):
        status, text, _ = self.run_watch(
            [task('running', host('a', 'acting')),
             task('succeeded', host('a', 'done'))], tty=True)
        self.assertEqual(0, status)
        self.assertEqual(2, text.count('\r'))
        self.assertEqual(2, self.run_watch(
            [task('cancelled', host('a', 'done'))], tty=False)[0])
