"""``nova-aggregates-manage maintenance watch ID``: a live progress bar of
a rolling maintenance task until it ends.

On a terminal the bar is redrawn in place; otherwise (a log, a pipe) a line
is printed each time the progress changes.  At the end, one line per host.
The exit status says how the task ended: 0 succeeded, 1 failed, 2
cancelled.
"""

import shutil
import sys
import time

from nova_aggregates import constants

EXIT_STATUS = {constants.TASK_SUCCEEDED: 0, constants.TASK_FAILED: 1,
               constants.TASK_CANCELLED: 2}
BAR_WIDTH = 24


def progress_line(task):
    """``[#####-------] host 2/4 xen2: evacuating | guests moved 3 |
    running``."""
    hosts = task['hosts']
    total = len(hosts)
    done = sum(1 for h in hosts if h['state'] == constants.TASK_HOST_DONE)
    current = next((h for h in hosts if h['state'] not in (
        constants.TASK_HOST_DONE, constants.TASK_HOST_PENDING)), None)
    if current is None:
        current = next((h for h in hosts
                        if h['state'] == constants.TASK_HOST_PENDING), None)
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    bar = '[' + '#' * filled + '-' * (BAR_WIDTH - filled) + ']'
    moved = sum(h['guests_moved'] or 0 for h in hosts)
    if current is None:
        where = 'all %d hosts done' % total
    else:
        where = 'host %d/%d %s: %s' % (hosts.index(current) + 1, total,
                                       current['host'], current['state'])
    return '%s %s | guests moved %d | %s' % (bar, where, moved,
                                             task['state'])


def summary(task):
    lines = ['Rolling maintenance task %s of aggregate %s (%s): %s' % (
        task['id'], task['aggregate_id'], task['host_action'],
        task['state'])]
    width = max([len(h['host']) for h in task['hosts']] + [4])
    for h in task['hosts']:
        line = '  %s  %-10s guests moved %d' % (
            h['host'].ljust(width), h['state'], h['guests_moved'] or 0)
        if h['message']:
            line += '  ' + h['message'].replace('\n', ' ')[-300:]
        lines.append(line)
    return '\n'.join(lines)


def watch(manager, context, task_id, interval=1.0, out=None, tty=None,
          sleep=time.sleep):
    """Follow task ``task_id`` of ``manager`` (RollingMaintenance) until it
    ends; its exit status."""
    out = out or sys.stdout
    tty = out.isatty() if tty is None else tty
    last = None
    while True:
        task = manager.get_task(context, task_id)
        line = progress_line(task)
        if tty:
            columns = shutil.get_terminal_size((100, 20)).columns
            out.write('\r' + line[:columns - 1].ljust(columns - 1))
            out.flush()
        elif line != last:
            out.write(line + '\n')
            out.flush()
        last = line
        if task['state'] in EXIT_STATUS:
            if tty:
                out.write('\n')
            out.write(summary(task) + '\n')
            out.flush()
            return EXIT_STATUS[task['state']]
        sleep(interval)
