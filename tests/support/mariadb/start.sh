#!/bin/sh
# The server in the background, its users once it answers, then wait for it; SIGTERM (docker
# stop) is passed on so that it shuts down cleanly.
set -eu
mkdir -p /run/mysqld
chown mysql /run/mysqld
mariadbd --user=mysql "$@" &
pid=$!
trap 'kill -TERM "$pid"' TERM INT
until mariadb -e 'select 1' >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "start-mariadb: mariadbd exited" >&2; exit 1; }
    sleep 0.2
done
mariadb <<SQL
CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE:-jobs}\`;
CREATE USER IF NOT EXISTS '${MARIADB_USER:-jobs}'@'%' IDENTIFIED BY '${MARIADB_PASSWORD:-test-password}';
GRANT ALL ON *.* TO '${MARIADB_USER:-jobs}'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY '${MARIADB_PASSWORD:-test-password}';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
SQL
echo "start-mariadb: ready for connections"
status=0
wait "$pid" || status=$?
# A signal ended the first wait: wait again for the server to finish shutting down.
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || status=$?; fi
exit "$status"
