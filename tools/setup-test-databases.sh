#!/usr/bin/env bash
# Install (Debian packages), start and prepare PostgreSQL and MariaDB for the
# opportunistic database tests: user/password/database "openstack_citest",
# as oslo.db's test fixtures expect (tests/functional/backends).  Needs root;
# idempotent; exits non-zero unless both servers answer the test user over
# TCP at the end.
#
# The tests create and drop their own uniquely named databases with these
# credentials; tests/functional/backends/test_db_restart.py additionally
# runs a private PostgreSQL server (initdb/pg_ctl from the same packages,
# as the postgres system user) that it may stop and crash.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null || ! command -v mysqladmin >/dev/null \
        || ! command -v runuser >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql mariadb-server mariadb-client \
        util-linux >/dev/null
fi

# PostgreSQL: the Debian cluster of whatever version was installed.
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$pg_version main"; then
    pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start >/dev/null 2>&1 || true
for _ in $(seq 1 30); do
    su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 1
done
# SUPERUSER: the tests create and drop databases, end the sessions of a
# killed server before dropping its database and tune deadlock_timeout.
su postgres -c "psql -qAt" <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'openstack_citest') THEN
    CREATE ROLE openstack_citest LOGIN SUPERUSER PASSWORD 'openstack_citest';
  ELSE
    ALTER ROLE openstack_citest LOGIN SUPERUSER PASSWORD 'openstack_citest';
  END IF;
END $$;
SQL
if ! su postgres -c "psql -qAtc \"select 1 from pg_database where datname='openstack_citest'\"" | grep -q 1; then
    su postgres -c "createdb -O openstack_citest openstack_citest"
fi

# MariaDB: start the server directly (no init system in containers).
if ! mysqladmin ping >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    (mysqld_safe --user=mysql >/tmp/mariadb.log 2>&1 &)
    for _ in $(seq 1 60); do
        mysqladmin ping >/dev/null 2>&1 && break
        sleep 1
    done
fi
mysql -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'openstack_citest'@'localhost' IDENTIFIED BY 'openstack_citest';
CREATE USER IF NOT EXISTS 'openstack_citest'@'127.0.0.1' IDENTIFIED BY 'openstack_citest';
ALTER USER 'openstack_citest'@'localhost' IDENTIFIED BY 'openstack_citest';
ALTER USER 'openstack_citest'@'127.0.0.1' IDENTIFIED BY 'openstack_citest';
GRANT ALL PRIVILEGES ON *.* TO 'openstack_citest'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'openstack_citest'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS openstack_citest;
FLUSH PRIVILEGES;
SQL

# Both must answer the test user over TCP, as the tests connect.
if ! PGPASSWORD=openstack_citest psql -h 127.0.0.1 -U openstack_citest \
        -d openstack_citest -qAtc 'select 1' >/dev/null; then
    echo "PostgreSQL does not accept openstack_citest on 127.0.0.1" >&2
    exit 1
fi
if ! mysql -h 127.0.0.1 -uopenstack_citest -popenstack_citest \
        -e 'select 1' openstack_citest >/dev/null; then
    echo "MariaDB does not accept openstack_citest on 127.0.0.1" >&2
    exit 1
fi
echo "test databases ready: postgresql $pg_version, $(mysqld --version | cut -d' ' -f2-4)"
