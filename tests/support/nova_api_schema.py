"""Nova's aggregate tables in a test database, as Nova's API database
migrations create them (nova/db/api/migrations/versions/
d67eeaabee36_initial_version.py, Nova 34), for the nova_api store's tests:
our virtualenv has no nova package.

Declared here on their own, not taken from the store's declarations, so
that the tests check the store against Nova's schema and not against
itself.  ``create(engine)`` also writes Nova's ``alembic_version`` at
Nova's head, as ``nova-manage api_db sync`` leaves it, so that tests can
check that our migrations leave it alone.  With ``other_tables``, one more
table of Nova's API database (``cell_mappings``) is there too.

Nothing here imports the service.
"""

import sqlalchemy as sa

#: The head of Nova 34's API database migrations.
NOVA_API_HEAD = 'cdeec0c85668'

_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8'}


def _metadata(other_tables=False):
    metadata = sa.MetaData()
    sa.Table(
        'aggregates', metadata,
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, nullable=False),
        sa.Column('uuid', sa.String(length=36)),
        sa.Column('name', sa.String(length=255)),
        sa.Index('aggregate_uuid_idx', 'uuid'),
        sa.UniqueConstraint('name', name='uniq_aggregate0name'),
        **_ARGS)
    sa.Table(
        'aggregate_hosts', metadata,
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, nullable=False),
        sa.Column('host', sa.String(length=255)),
        sa.Column('aggregate_id', sa.Integer, sa.ForeignKey('aggregates.id'),
                  nullable=False),
        sa.UniqueConstraint('host', 'aggregate_id',
                            name='uniq_aggregate_hosts0host0aggregate_id'),
        **_ARGS)
    sa.Table(
        'aggregate_metadata', metadata,
        sa.Column('created_at', sa.DateTime),
        sa.Column('updated_at', sa.DateTime),
        sa.Column('id', sa.Integer, primary_key=True, nullable=False),
        sa.Column('aggregate_id', sa.Integer, sa.ForeignKey('aggregates.id'),
                  nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=False),
        sa.UniqueConstraint('aggregate_id', 'key',
                            name='uniq_aggregate_metadata0aggregate_id0key'),
        sa.Index('aggregate_metadata_key_idx', 'key'),
        **_ARGS)
    sa.Table(
        'alembic_version', metadata,
        sa.Column('version_num', sa.String(32), primary_key=True,
                  nullable=False))
    if other_tables:
        sa.Table(
            'cell_mappings', metadata,
            sa.Column('created_at', sa.DateTime),
            sa.Column('updated_at', sa.DateTime),
            sa.Column('id', sa.Integer, primary_key=True, nullable=False),
            sa.Column('uuid', sa.String(length=36), nullable=False),
            sa.Column('name', sa.String(length=255)),
            sa.Column('transport_url', sa.Text()),
            sa.Column('database_connection', sa.Text()),
            sa.Column('disabled', sa.Boolean(create_constraint=False),
                      default=False),
            sa.UniqueConstraint('uuid', name='uniq_cell_mappings0uuid'),
            sa.Index('uuid_idx', 'uuid'),
            **_ARGS)
    return metadata


#: Nova's tables, for tests that write them directly (as Nova would).
TABLES = _metadata(other_tables=True).tables
aggregates = TABLES['aggregates']
aggregate_hosts = TABLES['aggregate_hosts']
aggregate_metadata = TABLES['aggregate_metadata']
alembic_version = TABLES['alembic_version']


def create(engine, other_tables=False):
    """Create Nova's aggregate tables (and ``alembic_version`` at Nova's
    head) in the database of ``engine``."""
    metadata = _metadata(other_tables)
    with engine.begin() as conn:
        metadata.create_all(conn)
        conn.execute(metadata.tables['alembic_version'].insert(),
                     {'version_num': NOVA_API_HEAD})


def nova_version(engine):
    """What Nova's ``alembic_version`` holds."""
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.select(
            alembic_version.c.version_num))]
