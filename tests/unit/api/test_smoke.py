from tests import base


class TestSmoke(base.APITestCase):

    def test_create_add_host_show(self):
        self.api.register_host('host1', 'az1')
        agg = self.create_aggregate('a1', 'az1')
        body = self.action(agg['id'], 'add_host', {'host': 'host1'})
        self.assertEqual(['host1'], body['aggregate']['hosts'])
        shown = self.json_request('GET', '/v2.1/os-aggregates/%s' % agg['id'])
        self.assertEqual('az1', shown['aggregate']['availability_zone'])
