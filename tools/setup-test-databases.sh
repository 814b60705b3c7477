#!/usr/bin/env bash
# Install (Debian packages), start and prepare PostgreSQL and MariaDB for the
# opportunistic database tests: user/password/database "openstack_citest",
# as oslo.db's test fixtures expect.  Needs root; idempotent.
set -euo pipefail

if ! command -v pg_ctlcluster >/dev/null || ! command -v mariadbd >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql mariadb-server >/dev/null
fi

# PostgreSQL: the Debian cluster of whatever version was installed.
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$pg_version main"; then
    pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
    su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1 && break
    sleep 1
done
su postgres -c "psql -qAt" <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'openstack_citest') THEN
    CREATE ROLE openstack_citest LOGIN SUPERUSER PASSWORD 'openstack_citest';
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
GRANT ALL PRIVILEGES ON *.* TO 'openstack_citest'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'openstack_citest'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS openstack_citest;
FLUSH PRIVILEGES;
SQL
echo "test databases ready: postgresql $pg_version, $(mysqld --version | cut -d' ' -f2-4)"
