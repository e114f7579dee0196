#!/usr/bin/env bash
# Regenerate the 0.2 fixtures of test_upgrade.py: the real 0.2 code (commit 30ce7a1, import
# name `jobs`) migrates a throwaway PostgreSQL and a SQLite file, runs a few jobs and jobctl
# commands against each, and the result is dumped as SQL text beside this script.
#
# usage: tests/upgrade/make_fixtures.sh    (from the repository, with `make .venv/.synced`
#                                           done and Docker's engine running)
set -Eeuo pipefail

V02=30ce7a1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="$ROOT/.venv/bin/python"
PG_IMAGE="${PG_IMAGE:-postgres:17}"

# The 0.2 project's own setup, in its Django shell: customers whose e-mails need normalising,
# tokens, orders, and an operator with the console's permissions through a group.
SETUP='
from datetime import timedelta
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone
from app.store.models import AuthToken, Customer, Order
now = timezone.now()
Customer.objects.bulk_create(Customer(email=f" User{i}@Example.COM ") for i in range(1, 41))
AuthToken.objects.bulk_create(
    AuthToken(value=f"token-{i}", created_at=now - timedelta(days=10 * i)) for i in range(1, 9)
)
Order.objects.bulk_create(
    Order(external_id=f"o-{i}", amount=i, created_at=now - timedelta(days=1, hours=i))
    for i in range(1, 6)
)
operators = Group.objects.create(name="operators")
operators.permissions.set(
    Permission.objects.filter(
        content_type__app_label="batch_jobs", codename__in=["view_jobrun", "operate_jobrun"]
    )
)
operator = User.objects.create_user("operator", password="not-a-secret", is_staff=True)
operator.groups.add(operators)
'

# usage: _v02 ARGS...  (python ARGS, in the 0.2 checkout, with its settings)
_v02() {
	(cd /tmp/v02 && "$PYTHON" "$@")
}

# usage: _jobctl ARGS...  (0.2's jobctl, whose module was jobs.ctl.cli)
_jobctl() {
	_v02 -c 'from jobs.ctl.cli import main; main()' "$@"
}

# usage: _use_v02 DATABASE_URL  (migrate, then a few runs that leave every kind of row)
_use_v02() {
	local url="$1"
	export DATABASE_URL="$url" DJANGO_SETTINGS_MODULE=app.settings DJANGO_SECRET_KEY=fixture \
		JOB_LOG_FORMAT=json HOSTNAME=v02-host
	_v02 manage.py migrate --noinput
	_v02 manage.py shell -c "$SETUP"
	_v02 manage.py cleanup_tokens --dry-run
	_v02 manage.py cleanup_tokens --days 35
	_v02 manage.py compute_daily_stats
	# A walk stopped at its time limit, leaving its checkpoint (exit 75).
	_v02 manage.py normalize_emails --batch-size 10 --throttle 1 --max-runtime 1 || [[ $? == 75 ]]
	_jobctl pause compute_daily_stats --by ops@v02-host
	_v02 manage.py compute_daily_stats # skipped: paused
	_jobctl history
	_v02 -c 'from jobs.framework.lock import lock_id; import json, sys
keys = ["django-jobs:cleanup_tokens", "django-jobs:normalize_emails"]
json.dump({k: lock_id(k) for k in keys}, sys.stdout, indent=2)' >"$HERE/v0.2-lock-ids.json"
}

_main() {
	git -C "$ROOT" worktree add --force --detach /tmp/v02 "$V02" >/dev/null
	trap 'git -C "$ROOT" worktree remove --force /tmp/v02; docker rm -f v02-fixture-db >/dev/null 2>&1 || true' EXIT

	docker run -d --name v02-fixture-db -e POSTGRES_USER=jobs -e POSTGRES_PASSWORD=fixture \
		-e POSTGRES_DB=jobs -p 127.0.0.1::5432 "$PG_IMAGE" >/dev/null
	until docker exec v02-fixture-db pg_isready -U jobs -d jobs -h 127.0.0.1 >/dev/null 2>&1; do
		sleep 0.5
	done
	local port
	port="$(docker port v02-fixture-db 5432/tcp | head -n1 | cut -d: -f2)"
	_use_v02 "postgres://jobs:fixture@127.0.0.1:$port/jobs"
	# Plain INSERTs, no owners or grants: loadable by any client into any database.
	docker exec v02-fixture-db pg_dump -U jobs --no-owner --no-privileges --inserts jobs \
		| grep -v '^[\]' >"$HERE/v0.2-postgresql.sql"

	local sqlite=/tmp/v02-fixture.sqlite3
	rm -f "$sqlite"
	_use_v02 "sqlite:///$sqlite"
	"$PYTHON" -c 'import sqlite3, sys
print("\n".join(sqlite3.connect(sys.argv[1]).iterdump()))' "$sqlite" >"$HERE/v0.2-sqlite.sql"
	rm -f "$sqlite"
}

if ! (return 0 2>/dev/null); then
	_main "$@"
fi
