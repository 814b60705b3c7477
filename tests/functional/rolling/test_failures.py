"""Rolling maintenance failure points on the fake driver (api-contract
§14): the first failure stops the task, the failed host's guests are safe
on other members, no host the task put in maintenance is left there but
the failed one, and resume continues from the step that did not finish.
Also a runner taking over a task whose runner is gone."""

import datetime

from nova_aggregates import constants
from nova_aggregates.db import api as db
from tests.functional.rolling import test_api

URL = test_api.URL


class FailureTestCase(test_api.RollingTestCase):

    def run_task(self, **values):
        task = self.create(**values)['rolling_maintenance']
        self.runner.run_once(wait=True)
        return self.show(task['id'])

    def host_row(self, host):
        row = db.compute_host_get(self.context, host)
        return row['status'], row['maintenance']

    def assert_in_service(self, *hosts):
        for host in hosts:
            self.assertEqual((constants.HOST_ENABLED,
                              constants.OFF_MAINTENANCE),
                             self.host_row(host), host)

    def resume(self, task_id):
        self.runner.join()
        self.json_request('POST', '%s/%d/action' % (URL, task_id),
                          {'resume': None}, expected=202)
        self.runner.run_once(wait=True)
        return self.show(task_id)


class TestFailures(FailureTestCase):

    def test_evacuation_refused(self):
        self.driver.set_power_state(self.guests['db'], 'Paused')
        task = self.run_task()
        self.assertEqual('failed', task['state'])
        self.assertEqual(['done', 'failed', 'pending', 'pending'],
                         [h['state'] for h in task['hosts']])
        failed = task['hosts'][1]
        self.assertIn('VM_BAD_POWER_STATE', failed['message'])
        self.assertIsNotNone(failed['finished_at'])
        # Refused before anything moved: host2 is as it was.
        self.assert_in_service(*self.hosts)
        self.assertEqual('host2', self.where('web'))
        # Fixed, resumed: host2 from its evacuation on.
        self.driver.set_power_state(self.guests['db'], 'Running')
        task = self.resume(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual(['done'] * 4, [h['state'] for h in task['hosts']])
        self.assert_in_service(*self.hosts)
        self.assertEqual(('host2', 'host2'), (self.where('web'),
                                              self.where('db')))

    def test_reboot_refused_keeps_the_host_in_maintenance(self):
        self.conf_fixture.config(reboot_timeout=5, group='maintenance')
        self.driver.configure_reboot('host3', fail='HOST_OFFLINE')
        task = self.run_task(host_action='reboot')
        self.assertEqual('failed', task['state'])
        self.assertEqual(['done', 'done', 'failed', 'pending'],
                         [h['state'] for h in task['hosts']])
        self.assertIn('HOST_OFFLINE', task['hosts'][2]['message'])
        self.assertEqual(1, task['hosts'][2]['guests_moved'])
        # host3 stays in maintenance, its guest safe on another member.
        self.assertEqual((constants.HOST_DISABLED, constants.ON_MAINTENANCE),
                         self.host_row('host3'))
        self.assertNotEqual('host3', self.where('cache'))
        self.assertIn(self.where('cache'), ('host1', 'host2', 'host4'))
        self.assert_in_service('host1', 'host2', 'host4')
        # Resumed: the reboot again (not the evacuation), then restore.
        self.driver.configure_reboot('host3')
        task = self.resume(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual([1, 1, 1, 1],
                         [self.driver.reboot_count(h) for h in self.hosts])
        self.assertEqual('host3', self.where('cache'))
        self.assert_in_service(*self.hosts)

    def test_host_not_coming_back(self):
        self.conf_fixture.config(reboot_timeout=0.2, group='maintenance')
        self.driver.configure_reboot('host2', never_back=True)
        task = self.run_task(host_action='reboot')
        self.assertEqual('failed', task['state'])
        self.assertIn('did not answer again within 0.2 seconds',
                      task['hosts'][1]['message'])
        self.assertEqual((constants.HOST_DISABLED, constants.ON_MAINTENANCE),
                         self.host_row('host2'))
        self.assertNotIn(self.where('web'), ('host2', None))
        self.assertNotIn(self.where('db'), ('host2', None))

    def test_command_failing(self):
        self.conf_fixture.config(
            host_command="sh -c 'echo upgrading $$HOST; exit 3'",
            group='maintenance')
        task = self.run_task(host_action='command', hosts=['host2', 'host3'])
        self.assertEqual('failed', task['state'])
        self.assertEqual(['failed', 'pending'],
                         [h['state'] for h in task['hosts']])
        message = task['hosts'][0]['message']
        self.assertIn('exited with status 3', message)
        self.assertIn('upgrading host2', message)
        self.assertEqual((constants.HOST_DISABLED, constants.ON_MAINTENANCE),
                         self.host_row('host2'))

    def test_command_timing_out(self):
        self.conf_fixture.config(host_command="sh -c 'echo start; sleep 30'",
                                 host_command_timeout=0.5,
                                 group='maintenance')
        task = self.run_task(host_action='command', hosts=['host4'])
        self.assertEqual('failed', task['state'])
        self.assertIn('timed out after 0.5 s', task['hosts'][0]['message'])
        self.assertIn('start', task['hosts'][0]['message'])

    def test_command_that_cannot_run(self):
        self.conf_fixture.config(host_command='/nonexistent/upgrade',
                                 group='maintenance')
        task = self.run_task(host_action='command', hosts=['host4'])
        self.assertEqual('failed', task['state'])
        self.assertIn('cannot be run', task['hosts'][0]['message'])

    def test_restore_failure_resumes_at_restore(self):
        # Enabling host2 again fails once: the task fails restoring it.
        task = self.create(hosts=['host2'])['rolling_maintenance']
        original = self.driver.set_host_enabled
        calls = []

        def enable_fails_once(pool, host, enabled):
            if enabled and host.name == 'host2' and not calls:
                calls.append(host.name)
                from nova_aggregates import exception
                raise exception.HypervisorUnreachable(host=host.name,
                                                      reason='test outage')
            return original(pool, host, enabled)
        self.driver.set_host_enabled = enable_fails_once
        self.runner.run_once(wait=True)
        task = self.show(task['id'])
        self.assertEqual('failed', task['state'])
        self.assertIn('test outage', task['hosts'][0]['message'])
        self.assertEqual((constants.HOST_DISABLED, constants.ON_MAINTENANCE),
                         self.host_row('host2'))
        task = self.resume(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual(2, task['hosts'][0]['guests_moved'])
        self.assertEqual(('host2', 'host2'), (self.where('web'),
                                              self.where('db')))


class TestTakeOver(FailureTestCase):

    def make_orphan(self, age):
        task = self.create(hosts=['host2', 'host3'])['rolling_maintenance']
        db.rolling_task_update(
            self.context, task['id'], state=constants.TASK_RUNNING,
            owner='gone-node:4242:0123456789ab',
            heartbeat_at=db.now() - datetime.timedelta(seconds=age))
        return task['id']

    def test_lease_expired_task_is_taken_over(self):
        task_id = self.make_orphan(age=10)
        self.assertEqual([task_id], self.runner.run_once(wait=True))
        self.assertEqual('succeeded', self.show(task_id)['state'])

    def test_claim_within_its_lease_is_left_alone(self):
        task_id = self.make_orphan(age=0)
        self.assertEqual([], self.runner.run_once(wait=True))
        self.assertEqual('running', self.show(task_id)['state'])

    def test_lock_held_elsewhere_is_left_alone(self):
        from nova_aggregates.aggregates import task_runner
        from nova_aggregates import coordination
        task_id = self.make_orphan(age=10)
        other = coordination.Coordinator(coordination.get().url)
        self.addCleanup(other.stop)
        lock = other.try_lock(task_runner.task_lock_name(task_id))
        self.assertIsNotNone(lock)
        self.assertEqual([], self.runner.run_once(wait=True))
        lock.release()
        self.assertEqual([task_id], self.runner.run_once(wait=True))


class TestUnexpected(FailureTestCase):

    def test_unexpected_error_fails_the_host_and_resume_goes_on(self):
        maintenance = self.api.services.host_maintenance
        original = maintenance.enter

        def broken_once(context, host, **kwargs):
            if host == 'host2':
                maintenance.enter = original
                raise RuntimeError('database went away')
            return original(context, host, **kwargs)
        maintenance.enter = broken_once
        task = self.run_task()
        self.assertEqual('failed', task['state'])
        self.assertEqual(['done', 'failed', 'pending', 'pending'],
                         [h['state'] for h in task['hosts']])
        self.assertIn('Unexpected error: database went away',
                      task['hosts'][1]['message'])
        first_done = task['hosts'][0]['finished_at']
        task = self.resume(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual(first_done, task['hosts'][0]['finished_at'])
        self.assert_in_service(*self.hosts)
        self.assertEqual('host2', self.where('db'))

    def test_interrupted_run_is_continued_not_replanned(self):
        # A claim that lapsed mid-run (its runner process died): the next
        # runner loads the same TaskFlow flow and goes on from its atom.
        task = self.create(hosts=['host2', 'host3'])['rolling_maintenance']
        runner = self.runner
        original = runner._execute

        def die_after_first_host(run):
            run.step_orig = run.step

            def step(position, host, step):
                if position == 1:
                    raise SystemExit  # the thread dies, nothing recorded
                return run.step_orig(position, host, step)
            run.step = step
            try:
                original(run)
            except SystemExit:
                pass
        runner._execute = die_after_first_host
        runner.run_once(wait=True)
        runner._execute = original
        row = db.rolling_task_get(self.context, task['id'])
        self.assertEqual('running', row['state'])
        self.assertIsNotNone(row['flow_uuid'])
        db.rolling_task_update(self.context, task['id'], heartbeat_at=(
            db.now() - datetime.timedelta(seconds=10)))
        self.assertEqual([task['id']], runner.run_once(wait=True))
        task = self.show(task['id'])
        self.assertEqual('succeeded', task['state'])
        self.assertEqual([2, 1], [h['guests_moved'] for h in task['hosts']])
