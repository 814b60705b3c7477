"""db.api on a real (SQLite) database: statement counts that do not grow
with the data, hard deletes, uniqueness, case sensitivity, timestamps."""

import datetime

import sqlalchemy as sa

from nova_aggregates import context as na_context
from nova_aggregates.db import api as db
from nova_aggregates import exception
from tests import base

HOSTS = ['host%d' % i for i in range(5)]


@db.writer
def _populate(context, first, count):
    """``count`` aggregates, each with three hosts and three keys, in one
    transaction."""
    for number in range(first, first + count):
        agg = db.aggregate_create(context, 'agg%d' % number, {
            'availability_zone': 'az1', 'k%d' % number: 'v',
            'shared': 'x'})
        for host in HOSTS[number % 3:number % 3 + 3]:
            db.aggregate_host_add(context, agg['id'], host)


class DBTestCase(base.TestCase):

    def setUp(self):
        super().setUp()
        self.context = na_context.get_admin_context()
        for host in HOSTS:
            db.compute_host_create(self.context, host)

    def rows(self, table):
        with self.db.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(
                'SELECT * FROM %s' % table))]

    def statements(self, fn, *args):
        """How many SQL statements ``fn`` ran (the BEGIN of its read
        transaction aside), and its result."""
        with self.db.count_statements() as counter:
            result = fn(self.context, *args)
        return len([s for s in counter.statements if s != 'BEGIN']), result


class TestStatementCounts(DBTestCase):

    def test_list_costs_the_same_at_1_and_200_aggregates(self):
        _populate(self.context, 0, 1)
        one, result = self.statements(db.aggregate_get_all)
        self.assertEqual(1, len(result))
        _populate(self.context, 1, 199)
        many, result = self.statements(db.aggregate_get_all)
        self.assertEqual(200, len(result))
        self.assertEqual(one, many)
        self.assertEqual(2, many)
        self.assertEqual(HOSTS[1:4], result[1]['hosts'])
        self.assertEqual({'availability_zone': 'az1', 'k199': 'v',
                          'shared': 'x'}, result[199]['metadata'])

    def test_show_costs_the_same_at_1_and_200_aggregates(self):
        _populate(self.context, 0, 1)
        one, result = self.statements(db.aggregate_get, 1)
        self.assertEqual(HOSTS[0:3], result['hosts'])
        _populate(self.context, 1, 199)
        many, result = self.statements(db.aggregate_get, 200)
        self.assertEqual(one, many)
        self.assertEqual(2, many)
        self.assertEqual('agg199', result['name'])
        self.assertEqual(HOSTS[1:4], result['hosts'])
        self.assertEqual({'availability_zone': 'az1', 'k199': 'v',
                          'shared': 'x'}, result['metadata'])

    def test_by_state_costs_the_same_at_1_and_200_aggregates(self):
        _populate(self.context, 0, 200)
        none, result = self.statements(db.aggregate_get_by_state, 'changing')
        self.assertEqual((1, []), (none, result))
        db.aggregate_update(self.context, 2, operational_state='changing')
        one, result = self.statements(db.aggregate_get_by_state, 'changing')
        self.assertEqual([2], [a['id'] for a in result])
        for aggregate_id in range(3, 200, 2):
            db.aggregate_update(self.context, aggregate_id,
                                operational_state='changing')
        many, result = self.statements(db.aggregate_get_by_state, 'changing')
        self.assertEqual((2, 2), (one, many))
        self.assertEqual([2] + list(range(3, 200, 2)),
                         [a['id'] for a in result])
        self.assertEqual(HOSTS[2:5], result[1]['hosts'])
        self.assertEqual({'availability_zone': 'az1', 'k2': 'v',
                          'shared': 'x'}, result[1]['metadata'])
        self.assertEqual(db.aggregate_get(self.context, 199), result[-1])

    def test_list_of_a_manager_costs_the_same(self):
        from nova_aggregates.aggregates import manager
        aggregates = manager.AggregateManager(self.conf)
        _populate(self.context, 0, 1)
        one, _ = self.statements(aggregates.list_aggregates)
        _populate(self.context, 1, 199)
        many, result = self.statements(aggregates.list_aggregates)
        self.assertEqual((2, 2, 200), (one, many, len(result)))

    def test_host_zones_cost_the_same(self):
        _populate(self.context, 0, 1)
        one, _ = self.statements(db.compute_host_get_all)
        _populate(self.context, 1, 199)
        many, result = self.statements(db.compute_host_get_all)
        self.assertEqual(one, many)
        self.assertEqual(['az1'], result[0]['aggregate_zones'])
        one, _ = self.statements(db.host_aggregates, ['host0'])
        many, result = self.statements(db.host_aggregates, HOSTS)
        self.assertEqual((1, 1), (one, many))
        self.assertEqual(200, len(result['host2']))

    def test_list_survives_a_delete_between_its_statements(self):
        _populate(self.context, 0, 3)
        state = {'done': False}

        def delete_after_first(conn, cursor, statement, *args):
            if state['done'] or 'FROM aggregates' not in statement:
                return
            state['done'] = True
            with self.db.engine.begin() as other:
                other.execute(sa.text(
                    'DELETE FROM aggregate_hosts WHERE aggregate_id = 2'))
                other.execute(sa.text(
                    'DELETE FROM aggregate_metadata WHERE aggregate_id = 2'))
                other.execute(sa.text('DELETE FROM aggregates WHERE id = 2'))

        sa.event.listen(self.db.engine, 'after_cursor_execute',
                        delete_after_first)
        self.addCleanup(sa.event.remove, self.db.engine,
                        'after_cursor_execute', delete_after_first)
        result = db.aggregate_get_all(self.context)
        self.assertTrue(state['done'])
        by_id = {a['id']: a for a in result}
        self.assertLessEqual({1, 3}, set(by_id))
        self.assertEqual(HOSTS[0:3], by_id[1]['hosts'])
        self.assertEqual(HOSTS[2:5], by_id[3]['hosts'])
        if 2 in by_id:
            # Seen whole (the read's snapshot) or without its children.
            self.assertIn(by_id[2]['hosts'], ([], HOSTS[1:4]))
        self.assertEqual([1, 3], [a['id'] for a in
                                  db.aggregate_get_all(self.context)])


class TestDeletes(DBTestCase):

    def test_hard_delete_frees_the_name_with_no_stale_metadata(self):
        agg = db.aggregate_create(self.context, 'agg1',
                                  {'availability_zone': 'az1', 'k': 'v'})
        db.aggregate_delete(self.context, agg['id'])
        self.assertEqual([], self.rows('aggregates'))
        self.assertEqual([], self.rows('aggregate_metadata'))
        again = db.aggregate_create(self.context, 'agg1')
        self.assertEqual({}, again['metadata'])
        self.assertEqual([], again['hosts'])
        self.assertIsNone(again['updated_at'])
        self.assertGreater(again['id'], agg['id'])
        self.assertNotEqual(agg['uuid'], again['uuid'])

    def test_hosts_go_with_the_aggregate(self):
        _populate(self.context, 0, 2)
        db.aggregate_delete(self.context, 1)
        self.assertEqual({2}, {row[1] for row in self.rows(
            'aggregate_hosts')})
        self.assertEqual({2}, {row[1] for row in self.rows(
            'aggregate_metadata')})

    def test_delete_missing(self):
        self.assertRaises(exception.AggregateNotFound, db.aggregate_delete,
                          self.context, 42)

    def test_ids_are_never_reused(self):
        first = db.aggregate_create(self.context, 'a')
        db.aggregate_delete(self.context, first['id'])
        second = db.aggregate_create(self.context, 'a')
        self.assertEqual(first['id'] + 1, second['id'])


class TestUniqueness(DBTestCase):

    def test_aggregate_names(self):
        db.aggregate_create(self.context, 'agg1', {'availability_zone': 'z'})
        error = self.assertRaises(exception.AggregateNameExists,
                                  db.aggregate_create, self.context, 'agg1',
                                  {'k': 'v'})
        self.assertEqual('Aggregate agg1 already exists.', str(error))
        self.assertEqual(1, len(self.rows('aggregates')))
        self.assertEqual(1, len(self.rows('aggregate_metadata')))

    def test_rename_to_a_taken_name(self):
        db.aggregate_create(self.context, 'agg1')
        agg2 = db.aggregate_create(self.context, 'agg2')
        self.assertRaises(exception.AggregateNameExists, db.aggregate_update,
                          self.context, agg2['id'], name='agg1')
        self.assertEqual('agg2', db.aggregate_get(self.context,
                                                  agg2['id'])['name'])

    def test_host_once_per_aggregate(self):
        agg = db.aggregate_create(self.context, 'agg1')
        db.aggregate_host_add(self.context, agg['id'], 'host1')
        self.assertRaises(exception.AggregateHostExists,
                          db.aggregate_host_add, self.context, agg['id'],
                          'host1')
        self.assertEqual(['host1'], db.aggregate_get(self.context,
                                                     agg['id'])['hosts'])

    def test_host_in_many_aggregates(self):
        for name in ('a', 'b', 'c'):
            agg = db.aggregate_create(self.context, name)
            db.aggregate_host_add(self.context, agg['id'], 'host1')
        self.assertEqual(['a', 'b', 'c'], [
            a['name'] for a in db.host_aggregates(self.context,
                                                  ['host1'])['host1']])

    def test_metadata_key_once_per_aggregate(self):
        agg = db.aggregate_create(self.context, 'agg1', {'k': 'v1'})
        db.aggregate_metadata_update(self.context, agg['id'], {'k': 'v2'})
        self.assertEqual({'k': 'v2'},
                         db.aggregate_get(self.context, agg['id'])['metadata'])
        self.assertEqual(1, len(self.rows('aggregate_metadata')))

    def test_removing_absent_keys(self):
        agg = db.aggregate_create(self.context, 'agg1', {'k': 'v'})
        db.aggregate_metadata_update(self.context, agg['id'], {},
                                     ['absent', 'k'])
        self.assertEqual({}, db.aggregate_get(self.context,
                                              agg['id'])['metadata'])

    def test_compute_hosts(self):
        self.assertRaises(exception.ComputeHostExists, db.compute_host_create,
                          self.context, 'host1')

    def test_host_in_use_cannot_be_unregistered(self):
        agg = db.aggregate_create(self.context, 'agg1')
        db.aggregate_host_add(self.context, agg['id'], 'host1')
        self.assertRaises(exception.ComputeHostInUse, db.compute_host_delete,
                          self.context, 'host1')
        db.compute_host_delete(self.context, 'host2')
        self.assertEqual(['host0', 'host1', 'host3', 'host4'], [
            h['name'] for h in db.compute_host_get_all(self.context)])


class TestCaseSensitivity(DBTestCase):

    def test_names(self):
        db.aggregate_create(self.context, 'agg')
        db.aggregate_create(self.context, 'AGG')
        db.aggregate_create(self.context, 'Agg')
        self.assertEqual(['agg', 'AGG', 'Agg'], [
            a['name'] for a in db.aggregate_get_all(self.context)])

    def test_hosts(self):
        db.compute_host_create(self.context, 'HOST1')
        self.assertEqual(['HOST1', 'host1'], sorted(db.lock_hosts(
            self.context, ['host1', 'HOST1'])))
        self.assertRaises(exception.ComputeHostNotFound, db.lock_hosts,
                          self.context, ['Host1'])
        agg = db.aggregate_create(self.context, 'agg1')
        db.aggregate_host_add(self.context, agg['id'], 'host1')
        db.aggregate_host_add(self.context, agg['id'], 'HOST1')
        self.assertEqual(['host1', 'HOST1'],
                         db.aggregate_get(self.context, agg['id'])['hosts'])
        self.assertRaises(exception.AggregateHostNotFound,
                          db.aggregate_host_remove, self.context, agg['id'],
                          'Host1')

    def test_metadata_keys(self):
        agg = db.aggregate_create(self.context, 'agg1', {'key': 'a'})
        db.aggregate_metadata_update(self.context, agg['id'],
                                     {'KEY': 'b', 'Key': 'c'})
        db.aggregate_metadata_update(self.context, agg['id'], {}, ['kEY'])
        self.assertEqual({'key': 'a', 'KEY': 'b', 'Key': 'c'},
                         db.aggregate_get(self.context, agg['id'])['metadata'])


class TestTimestamps(DBTestCase):

    def test_microseconds_are_kept(self):
        stamp = datetime.datetime(2012, 3, 1, 10, 0, 0, 123456)
        agg = db.aggregate_create(self.context, 'agg1')
        db.aggregate_update(self.context, agg['id'], updated_at=stamp)
        self.assertEqual(stamp, db.aggregate_get(self.context,
                                                 agg['id'])['updated_at'])
        stamp = datetime.datetime(2012, 3, 1, 10, 0, 0, 1)
        db.aggregate_update(self.context, agg['id'], updated_at=stamp)
        self.assertEqual(stamp, db.aggregate_get(self.context,
                                                 agg['id'])['updated_at'])

    def test_created_at_has_microseconds(self):
        stamps = [db.aggregate_create(self.context, 'agg%d' % i)['created_at']
                  for i in range(5)]
        self.assertEqual(5, len(set(stamps)))
        self.assertTrue(any(s.microsecond for s in stamps))
        self.assertEqual(stamps, [a['created_at'] for a in
                                  db.aggregate_get_all(self.context)])

    def test_lock_stamps_updated_at(self):
        agg = db.aggregate_create(self.context, 'agg1')
        self.assertIsNone(agg['updated_at'])
        locked = db.lock_aggregate(self.context, agg['id'])
        self.assertIsNotNone(locked['updated_at'])
        self.assertGreaterEqual(locked['updated_at'], agg['created_at'])
        self.assertEqual(locked['updated_at'], db.aggregate_get(
            self.context, agg['id'])['updated_at'])

    def test_lock_of_a_missing_aggregate(self):
        self.assertRaises(exception.AggregateNotFound, db.lock_aggregate,
                          self.context, 42)
