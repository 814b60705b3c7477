"""Our filter inside a real Nova 34, as doc/operator-guide.md "Adding
os-aggregates to Nova" says (contract §17).

Each class runs one Keystone and two Novas: one with the guide's paste
sections and our configuration, one exactly as Nova ships (the baseline),
so that "Nova's answers are as without us" is a comparison, not a memory.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import uuid

from tests.functional.keystone import fixtures as ks_fixtures
from tests.functional.keystone import test_keystone
from tests.functional.nova import test_baseline
from tests.support import nova
from tests.support import shared

GUIDE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                     'operator-guide.md')
GUIDE_CONFIG_FILE = '/etc/nova-aggregates/nova-aggregates.conf'
OUR_DESCRIPTION = 'Admin-only aggregate administration'
#: Our policy file lets members list aggregates: Nova's own would not.
POLICY = '"os_compute_api:os-aggregates:index": "role:member or role:admin"\n'
MANAGE = os.path.join(os.path.dirname(sys.executable),
                      'nova-aggregates-manage')


def guide_block(marker):
    """The fenced block after ``<!-- tested: ... marker -->`` (indented in
    a list item or not)."""
    with open(GUIDE) as f:
        text = f.read()
    match = re.search(
        r'<!-- tested: tests/functional/nova/test_filter.py %s -->\n'
        r'( *)```\w*\n(.*?)\n *```' % re.escape(marker), text, re.S)
    if match is None:
        raise AssertionError('no block "%s" in the operator guide' % marker)
    return textwrap.dedent(match.group(2)) + '\n'


def _sections(text):
    """``{name: text}`` of an ini text's sections, in order."""
    found = {}
    for match in re.finditer(r'^\[([^\]]+)\]\n(.*?)(?=^\[|\Z)', text,
                             re.S | re.M):
        found[match.group(1)] = match.group(0).rstrip('\n') + '\n'
    return found


def apply_guide(packaged, config_file):
    """Nova's packaged api-paste.ini with the guide's sections: those of
    the same name replaced, the new ones added."""
    text = packaged
    for name, section in _sections(guide_block('paste')).items():
        section = section.replace(GUIDE_CONFIG_FILE, config_file)
        existing = _sections(text).get(name)
        if existing is None:
            text = text.rstrip('\n') + '\n\n' + section
        else:
            text = text.replace(existing, section)
    return text


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class OursInsideNovaTestCase(test_baseline.NovaAPITestCase):
    """``cls.nova``: Nova with our filter; ``cls.baseline``: Nova as it
    ships; both validate tokens of ``cls.keystone``, whose catalog has ours
    as the compute endpoint."""

    #: ``[section] option = value`` lines over the guide's configuration.
    CONFIG_OVERRIDES = {}

    @classmethod
    def check_available(cls):
        super().check_available()
        problem = ks_fixtures.venv_problem()
        if problem:
            shared.unavailable(ks_fixtures.REQUIRED_NAME, problem)

    @classmethod
    def database_url(cls, deployment):
        return 'sqlite:///' + deployment.path('aggregates.sqlite')

    @classmethod
    def our_config(cls, deployment):
        config = guide_block('config').replace(
            'mysql+pymysql://nova_aggregates:SECRET@db.example/'
            'nova_aggregates', cls.database_url(deployment)).replace(
            '/etc/nova-aggregates/policy.yaml', deployment.path('policy.yaml'))
        for (section, option), value in cls.CONFIG_OVERRIDES.items():
            config = re.sub(r'^\[%s\]\n' % re.escape(section),
                            '[%s]\n%s = %s\n' % (section, option, value),
                            config, count=1, flags=re.M)
            if '[%s]' % section not in config:
                config += '\n[%s]\n%s = %s\n' % (section, option, value)
        return config

    @classmethod
    def prepare_class(cls):
        cls.keystone = cls.use_class_fixture(ks_fixtures.KeystoneFixture())
        cls.baseline = cls.use_class_fixture(
            nova.NovaDeployment(keystone=cls.keystone))
        ours = nova.NovaDeployment(keystone=cls.keystone,
                                   files={'policy.yaml': POLICY})

        def paste_ini(packaged):
            # Called once the deployment has its directory, before Nova
            # starts: the moment our file's paths are known.
            config_file = ours.path('nova-aggregates.conf')
            with open(config_file, 'w') as f:
                f.write(cls.our_config(ours))
            return apply_guide(packaged, config_file)
        ours.paste_ini = paste_ini
        cls.nova = cls.use_class_fixture(ours)
        cls.config_file = ours.path('nova-aggregates.conf')
        cls.db_sync()
        cls.keystone.register_endpoint('compute', 'nova',
                                       cls.nova.url + '/v2.1')
        cls.member_token = cls.keystone.issue_token(ks_fixtures.MEMBER)[0]
        cls.admin_project = cls.keystone.project_ids[ks_fixtures.ADMIN.project]

    @classmethod
    def db_sync(cls):
        run = subprocess.run([MANAGE, '--config-file', cls.config_file,
                              'db', 'sync'], capture_output=True, text=True,
                             timeout=120)
        if run.returncode != 0:
            raise AssertionError('db sync: %s' % run.stderr)

    # Helpers.

    def call(self, method, path, body=None, version=None, token=True,
             deployment=None):
        headers = {'OpenStack-API-Version': 'compute ' + version} \
            if version else None
        return (deployment or self.nova).request(method, path, body,
                                                 token=token, headers=headers)

    def create(self, name=None, zone=None, version='2.81'):
        body = {'aggregate': {'name': name or _name('agg')}}
        if zone:
            body['aggregate']['availability_zone'] = zone
        response = self.call('POST', '/v2.1/os-aggregates', body, version)
        self.assertStatus(200, response, 'create')
        return response.json()['aggregate']

    def add_host(self, agg, host, version='2.81'):
        return self.call('POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
                         {'add_host': {'host': host}}, version)

    def provider_aggregates(self, host):
        """The aggregates Placement shows on the resource provider of
        ``host``'s compute node."""
        node = self.nova.run_in_nova('''
            with in_cell() as cctxt:
                node = objects.ComputeNodeList.get_all_by_host(cctxt, %r)[0]
            emit(node.uuid)
        ''' % host)
        status, body = self.nova.placement_request(
            'GET', '/resource_providers/%s/aggregates' % node)
        self.assertEqual(200, status, body)
        return body['aggregates']

    def our_rows(self, query):
        with sqlite3.connect(self.nova.path('aggregates.sqlite')) as db:
            return [tuple(row) for row in db.execute(query)]


class TestOursInsideNova(OursInsideNovaTestCase):

    def test_paste_file_is_the_guides(self):
        with open(self.nova.paste_ini_path) as f:
            text = f.read()
        self.assertIn(' keystonecontext aggregates_v21 osapi_compute_app_v21',
                      text)
        self.assertIn(' keystonecontext aggregates_v2 legacy_v2_compatible ',
                      text)
        self.assertIn('config_file = ' + self.config_file, text)
        self.assertEqual(2, text.count('extension_middleware_factory'))

    def test_nova_started_with_our_configuration(self):
        self.get_json('/v2.1/flavors')
        for text in ('DuplicateOptError', 'Traceback', 'DriverNotFound'):
            self.assertNotIn(text, self.nova.log_text)
        # Our file was read: the aggregate is in the database it names.
        name = self.create()['name']
        self.assertIn((name,), self.our_rows('SELECT name FROM aggregates'))

    def test_novas_answers_are_as_without_us(self):
        project = self.admin_project
        # Their bodies list the computes, which the other tests add to our
        # Nova only: the rest of the answer is compared.
        by_computes = ('/v2.1/os-hosts', '/v2.1/os-availability-zone',
                       '/v2.1/os-services')
        for path, version in (
                ('/', None), ('/v2.1', None), ('/v2.1/', None),
                ('/v2', None),
                ('/v2.1/flavors', None), ('/v2.1/flavors/detail', '2.104'),
                ('/v2.1/servers', None), ('/v2.1/servers/detail', '2.104'),
                ('/v2.1/servers', '2.105'), ('/v2.1/servers', 'latest'),
                ('/v2.1/servers', 'bad'), ('/v2.1/no-such-thing', None),
                ('/v2.1/os-hosts', None), ('/v2.1/os-services', '2.53'),
                ('/v2.1/os-availability-zone', None),
                ('/v2.1/os-hosts', '2.43'),
                ('/v2/%s/flavors' % project, None),
                ('/v2/%s/servers' % project, None)):
            ours = self.call('GET', path, version=version)
            theirs = self.call('GET', path, version=version,
                               deployment=self.baseline)
            theirs = self.comparable(theirs, self.baseline)
            ours = self.comparable(ours, self.nova)
            if path in by_computes:
                theirs, ours = theirs[:-1], ours[:-1]
            self.assertEqual(theirs, ours, '%s %s' % (path, version))
        # A member's 403 on Nova's os-services, and a missing token's 401.
        for token in (self.member_token, None):
            ours = self.call('GET', '/v2.1/os-services', token=token)
            theirs = self.call('GET', '/v2.1/os-services', token=token,
                               deployment=self.baseline)
            self.assertEqual(theirs.status, ours.status)
            self.assertEqual(theirs.body, ours.body)

    @staticmethod
    def comparable(response, deployment):
        headers = {name.lower(): value for name, value in
                   response.headers.items()}
        body = response.body.replace(deployment.url.encode(), b'URL')
        return (response.status, headers.get('content-type'),
                headers.get('openstack-api-version'),
                headers.get('vary'), body)

    def test_our_resources_are_ours(self):
        agg = self.create(zone='az-ours')
        self.assertEqual('az-ours', agg['availability_zone'])
        # Our bookkeeping: our database holds it, Nova's does not.
        with sqlite3.connect(self.nova.api_database_url.split(
                'sqlite:///', 1)[1]) as db:
            novas = [row[0] for row in db.execute(
                'SELECT name FROM aggregates')]
        self.assertNotIn(agg['name'], novas)
        # Our faults.
        duplicate = self.call('POST', '/v2.1/os-aggregates',
                              {'aggregate': {'name': agg['name']}})
        self.assertStatus(409, duplicate)
        self.assertEqual(
            ('conflictingRequest', 409,
             'Aggregate %s already exists.' % agg['name']),
            duplicate.fault())
        bad = self.call('POST', '/v2.1/os-aggregates',
                        {'aggregate': {'name': 'x', 'bogus': 1}})
        self.assertStatus(400, bad)
        self.assertIn('bogus', bad.fault()[2])

    def test_our_policy(self):
        # Members may list here (our policy file); Nova's would refuse.
        self.assertStatus(200, self.call('GET', '/v2.1/os-aggregates',
                                         token=self.member_token))
        self.assertStatus(403, self.call('GET', '/v2.1/os-aggregates',
                                         token=self.member_token,
                                         deployment=self.baseline))
        refused = self.call('POST', '/v2.1/os-aggregates',
                            {'aggregate': {'name': _name('m')}},
                            token=self.member_token)
        self.assertStatus(403, refused)
        self.assertIn('os_compute_api:os-aggregates:create',
                      refused.fault()[2])
        self.assertStatus(401, self.call('GET', '/v2.1/os-aggregates',
                                         token=None))
        self.assertStatus(401, self.call('GET', '/v2.1/os-aggregates',
                                         token='admin:admin'))

    def test_microversions_up_to_novas(self):
        for version in ('2.1', '2.41', '2.81', '2.104', 'latest'):
            response = self.call('GET', '/v2.1/os-aggregates',
                                 version=version)
            self.assertStatus(200, response, version)
            echoed = '2.104' if version == 'latest' else version
            self.assertEqual('compute ' + echoed,
                             response.headers['OpenStack-API-Version'])
        too_new = self.call('GET', '/v2.1/os-aggregates', version='2.105')
        self.assertStatus(406, too_new)
        self.assertIn('maximum is 2.104', too_new.fault()[2])
        self.assertIn('uuid', self.create(version='2.104'))
        self.assertNotIn('uuid', self.create(version='2.40'))

    def test_hosts_are_novas_computes(self):
        host = _name('compute')
        self.nova.add_compute_service(host)
        agg = self.create()
        added = self.add_host(agg, host)
        self.assertStatus(200, added)
        self.assertEqual([host], added.json()['aggregate']['hosts'])
        unknown = self.add_host(agg, 'no-such-compute')
        self.assertStatus(404, unknown)
        self.assertEqual(('itemNotFound', 404,
                          'Compute host no-such-compute could not be found.'),
                         unknown.fault())
        # Nova's os-services is still Nova's.
        services = self.get_json('/v2.1/os-services?binary=nova-compute')
        self.assertIn(host, [s['host'] for s in services['services']])

    def test_listing_merged(self):
        ours = self.get_json('/v2.1/extensions')['extensions']
        theirs = self.baseline.request('GET', '/v2.1/extensions').json()[
            'extensions']
        self.assertEqual([e['alias'] for e in theirs],
                         [e['alias'] for e in ours])
        by_alias = {e['alias']: e for e in ours}
        self.assertEqual(OUR_DESCRIPTION,
                         by_alias['os-aggregates']['description'])
        self.assertEqual(
            [e for e in theirs if e['alias'] != 'os-aggregates'],
            [e for e in ours if e['alias'] != 'os-aggregates'])
        shown = self.get_json('/v2.1/extensions/os-aggregates')
        self.assertEqual(by_alias['os-aggregates'], shown['extension'])
        hosts = self.call('GET', '/v2.1/extensions/os-hosts')
        self.assertEqual(self.baseline.request(
            'GET', '/v2.1/extensions/os-hosts').body, hosts.body)

    def test_legacy_v2_surface(self):
        agg = self.create()
        listed = self.get_json('/v2/%s/os-aggregates' % self.admin_project)
        self.assertIn(agg['name'],
                      [a['name'] for a in listed['aggregates']])
        other = self.call('GET', '/v2/not-my-project/os-aggregates')
        self.assertStatus(400, other)

    def test_openstack_client_unchanged(self):
        cli = self.useFixture(test_keystone.PasswordCLIFixture(
            self.keystone, ks_fixtures.ADMIN))
        host, name = _name('compute'), _name('cli')
        self.nova.add_compute_service(host)
        created = cli.json('aggregate', 'create', '--zone', 'az-cli',
                           '--property', 'ssd=true', name)
        self.assertEqual((name, 'az-cli'),
                         (created['name'], created['availability_zone']))
        self.assertIn(name, [row['Name']
                             for row in cli.json('aggregate', 'list')])
        added = cli.json('aggregate', 'add', 'host', name, host)
        self.assertEqual([host], added['hosts'])
        shown = cli.json('aggregate', 'show', name)
        self.assertEqual(created['id'], shown['id'])
        self.assertIn('ssd', json.dumps(shown['properties']))
        cli.json('aggregate', 'remove', 'host', name, host)
        cli.run('aggregate', 'delete', name)
        self.assertNotIn((name,),
                         self.our_rows('SELECT name FROM aggregates'))

    def test_novaclient_unchanged(self):
        found = _novaclient(self.keystone, '''
            created = nova.aggregates.create(NAME, 'az-nc')
            nova.aggregates.set_metadata(created, {'k': 'v'})
            emit({'max': nova.api_version.get_string(),
                  'names': [a.name for a in nova.aggregates.list()],
                  'metadata': nova.aggregates.get(created.id).metadata})
            nova.aggregates.delete(created)
        ''', name=_name('nc'))
        # Above ours: negotiated against Nova's version document.
        major, minor = map(int, found['max'].split('.'))
        self.assertGreater((major, minor), (2, 41))
        self.assertIn(found['name'], found['names'])
        self.assertEqual({'availability_zone': 'az-nc', 'k': 'v'},
                         found['metadata'])


_NOVACLIENT = '''
import json, sys
from keystoneauth1 import loading, session
from novaclient import api_versions, client
auth = loading.get_plugin_loader('password').load_from_options(
    auth_url=%(auth_url)r, username=%(user)r, password=%(password)r,
    project_name=%(project)r, user_domain_id='default',
    project_domain_id='default')
sess = session.Session(auth=auth)
# As novaclient's shell does: the highest version both sides know.
probe = client.Client(api_versions.APIVersion('2.1'), session=sess)
nova = client.Client(api_versions.discover_version(
    probe, api_versions.APIVersion('2.latest')), session=sess)
NAME = %(name)r
def emit(value):
    value['name'] = NAME
    print(json.dumps(value))
'''


def _novaclient(keystone, code, name):
    source = _NOVACLIENT % {
        'auth_url': keystone.auth_url, 'user': ks_fixtures.ADMIN.username,
        'password': ks_fixtures.ADMIN.password,
        'project': ks_fixtures.ADMIN.project, 'name': name} + \
        textwrap.dedent(code)
    run = subprocess.run([sys.executable, '-c', source], capture_output=True,
                         text=True, timeout=120,
                         env={k: v for k, v in os.environ.items()
                              if not k.startswith('OS_')})
    if run.returncode != 0:
        raise AssertionError('novaclient: %s' % run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


class TestNovasOwnStore(OursInsideNovaTestCase):
    """``[database] aggregate_store = nova_api`` (the guide's "Optionally:
    Nova's own aggregate store"): our aggregates are Nova's."""

    CONFIG_OVERRIDES = {('database', 'aggregate_store'): 'nova_api'}

    @classmethod
    def database_url(cls, deployment):
        return deployment.api_database_url

    def test_the_guides_settings(self):
        with open(GUIDE) as f:
            self.assertIn('aggregate_store = nova_api', f.read())
        with open(self.config_file) as f:
            config = f.read()
        self.assertIn('connection = ' + self.nova.api_database_url, config)

    def test_nova_sees_what_we_make(self):
        host, zone = _name('compute'), _name('az')
        self.nova.add_compute_service(host)
        agg = self.create(zone=zone)
        self.assertStatus(200, self.add_host(agg, host))
        self.assertStatus(200, self.call(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {'set_metadata': {'metadata': {'ssd': 'true'}}}, '2.81'))
        # Nova's scheduler reads AggregateList.get_by_host.
        found, = self.nova.aggregates_by_host(host)
        self.assertEqual(
            {'id': agg['id'], 'name': agg['name'], 'uuid': agg['uuid'],
             'hosts': [host],
             'metadata': {'availability_zone': zone, 'ssd': 'true'}},
            dict(found, uuid=str(uuid.UUID(found['uuid']))))
        # Nova's availability zones and os-services place the host there.
        zones = self.get_json('/v2.1/os-availability-zone/detail')
        by_name = {z['zoneName']: z for z in zones['availabilityZoneInfo']}
        self.assertIn(host, by_name[zone]['hosts'])
        service, = [s for s in self.get_json(
            '/v2.1/os-services?binary=nova-compute')['services']
            if s['host'] == host]
        self.assertEqual(zone, service['zone'])
        # nova-manage placement sync_aggregates mirrors it into Placement.
        result = self.nova.manage('placement', 'sync_aggregates')
        self.assertIn(result.returncode, (0, 4), result.stdout + result.stderr)
        self.assertEqual([agg['uuid']], self.provider_aggregates(host))

    def test_we_see_what_nova_makes(self):
        host, name = _name('compute'), _name('nova-made')
        self.nova.add_compute_service(host)
        made = self.nova.run_in_nova('''
            agg = objects.Aggregate(ctxt, name=%r,
                                    metadata={'availability_zone': 'az-n'})
            agg.create()
            agg.add_host(%r)
            emit(agg.id)
        ''' % (name, host))
        shown = self.get_json('/v2.1/os-aggregates/%d' % made)['aggregate']
        self.assertEqual((name, 'az-n', [host]),
                         (shown['name'], shown['availability_zone'],
                          shown['hosts']))
        # Our rules hold for it: the host's zone is az-n.
        other = self.create(zone=_name('az'))
        conflict = self.add_host(other, host)
        self.assertStatus(409, conflict)
        self.assertIn('az-n', conflict.fault()[2])
        # And we manage it: Nova's objects see the change.
        removed = self.call('POST', '/v2.1/os-aggregates/%d/action' % made,
                            {'remove_host': {'host': host}}, '2.81')
        self.assertStatus(200, removed)
        self.assertEqual([], self.nova.aggregates_by_host(host))
        self.assertStatus(200, self.call('DELETE',
                                         '/v2.1/os-aggregates/%d' % made))


class TestMirroringInsideNova(OursInsideNovaTestCase):
    """Inside Nova's pipeline with ``[placement] mirror_aggregates = true``
    against Nova's own Placement: what we change is in Placement at once,
    where Nova's scheduler pre-filters read it (no ``nova-manage placement
    sync_aggregates``)."""

    @classmethod
    def our_config(cls, deployment):
        return super().our_config(deployment) + (
            '\n[placement]\nmirror_aggregates = true\n'
            'auth_type = admin_token\nendpoint = %s\ntoken = %s\n' % (
                deployment.placement_url, nova.PLACEMENT_TOKEN))

    def test_membership_reaches_novas_placement(self):
        host = _name('compute')
        self.nova.add_compute_service(host)
        agg = self.create(zone=_name('az'))
        self.assertStatus(200, self.add_host(agg, host))
        self.assertEqual([agg['uuid']], self.provider_aggregates(host))
        self.assertStatus(200, self.call(
            'POST', '/v2.1/os-aggregates/%s/action' % agg['id'],
            {'remove_host': {'host': host}}, '2.81'))
        self.assertEqual([], self.provider_aggregates(host))
