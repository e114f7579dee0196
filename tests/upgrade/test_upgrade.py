"""A database made and used by 0.2 upgrades in place: its run records, checkpoint, pause,
requests and permissions are there and readable after this version's ``migrate``, and a new
run takes the lock key a 0.2 run of the same job took.

The fixtures are 0.2's own work (``make_fixtures.sh`` regenerates them from commit 30ce7a1):
the example project migrated, a few jobs run and a job paused, then dumped as SQL text."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from batch_jobs.framework.lock import lock_id
from tests.support.docker import create_database

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
LOCK_IDS = json.loads((HERE / "v0.2-lock-ids.json").read_text())

# The admin's run list, as the operator 0.2 made sees it, through Django's test client.
ADMIN = """
import json
import django
django.setup()
from django.contrib.auth.models import User
from django.conf import settings
from django.test import Client, override_settings
operator = User.objects.get(username="operator")
client = Client()
client.force_login(operator)
plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):  # no collectstatic
    page = client.get("/admin/batch_jobs/jobrun/")
print(json.dumps({
    "status": page.status_code,
    "page": page.content.decode(),
    "can_operate": operator.has_perm("batch_jobs.operate_jobrun"),
}))
"""


class Upgraded:
    """A database loaded from 0.2's dump, and this version's console scripts against it."""

    def __init__(self, vendor, url, query):
        self.vendor, self.url, self.query = vendor, url, query

    def run(self, *words):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "app.settings",  # the project 0.2 ran, as it is now
            "DJANGO_EXTRA_APPS": "",
            "DATABASE_URL": self.url,
            "DJANGO_SECRET_KEY": "upgrade-test-key-not-a-secret-but-long-enough-for-django",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "JOB_LOG_FORMAT": "json",
        }
        return subprocess.run(
            [*words], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )


@pytest.fixture(params=["postgresql", "sqlite"])
def upgraded(request, tmp_path):
    dump = (HERE / f"v0.2-{request.param}.sql").read_text()
    if request.param == "postgresql":
        _, url = create_database(request.getfixturevalue("postgres"), "upgraded_from_0_2")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(dump)

        def query(sql, *params):
            with psycopg.connect(url, autocommit=True) as db:
                return db.execute(sql.replace("?", "%s"), params).fetchall()

        return Upgraded("postgresql", url, query)
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(dump)

    def query(sql, *params):
        with sqlite3.connect(path) as db:
            return db.execute(sql, params).fetchall()

    return Upgraded("sqlite", f"sqlite:///{path}", query)


def test_a_database_of_0_2_keeps_working(upgraded):
    migrated = upgraded.run(BIN / "job", "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    shown = upgraded.run(BIN / "job", "showmigrations", "batch_jobs")
    assert "[ ]" not in shown.stdout and "[X] 0004_shard_plan" in shown.stdout, shown.stdout
    assert "[X] 0005_start_requests_and_output" in shown.stdout, shown.stdout

    # The records 0.2 wrote, read by this version's jobctl.
    history = upgraded.run(BIN / "jobctl", "history")
    assert history.returncode == 0, history.stderr
    rows = {line.split()[0]: line for line in history.stdout.splitlines()[1:]}
    # 0.2's five runs, and the backfill that migration store.0004's gate ran inline: 0.2's
    # few customers got their joined_at inside migrate (docs/how-to/data-migrations.md).
    assert rows.keys() == {"1", "2", "3", "4", "5", "6"}
    assert rows["6"].split()[1:4] == ["backfill_joined_at", "succeeded", "0"]
    assert rows["1"].split()[1:4] == ["cleanup_tokens", "succeeded", "(dry"]
    assert "deleted=5" in rows["2"] and "v02-host" in rows["2"]
    assert rows["4"].split()[1:4] == ["normalize_emails", "interrupted", "75"]
    assert rows["5"].split()[1:4] == ["compute_daily_stats", "skipped", "0"]

    # Its checkpoint and its pause.
    walk = upgraded.run(BIN / "jobctl", "describe", "normalize_emails")
    assert walk.returncode == 0, walk.stderr
    (checkpoint,) = [x for x in walk.stdout.splitlines() if x.startswith("checkpoint:")]
    assert "after key 10" in checkpoint, checkpoint
    paused = upgraded.run(BIN / "jobctl", "describe", "compute_daily_stats")
    assert "paused: yes, by ops@v02-host at " in paused.stdout, paused.stdout

    # The admin's run list, for the operator whose permissions came through a 0.2 group.
    admin = upgraded.run(BIN / "python", "-c", ADMIN)
    assert admin.returncode == 0, admin.stderr
    console = json.loads(admin.stdout)
    assert (console["status"], console["can_operate"]) == (200, True)
    assert console["page"].count("v02-host") >= 5
    for job in ("cleanup_tokens", "normalize_emails", "compute_daily_stats"):
        assert job in console["page"]

    # The paused job stays paused; the walk resumes where 0.2 stopped it.
    skipped = upgraded.run(BIN / "job", "compute_daily_stats")
    assert skipped.returncode == 0, skipped.stderr
    assert "compute_daily_stats is paused (by ops@v02-host" in skipped.stderr
    resumed = upgraded.run(BIN / "job", "normalize_emails", "--batch-size", "10")
    assert resumed.returncode == 0, resumed.stderr
    assert "checked 30 / changed 30 (commit); the walk: checked 40 / changed 40" in resumed.stdout
    assert upgraded.query(
        "SELECT count(*) FROM store_customer WHERE email <> lower(trim(email))"
    ) == [(0,)]
    keys = upgraded.query(
        "SELECT id, lock_key FROM batch_jobs_run WHERE job = ? ORDER BY id", "normalize_emails"
    )
    assert [key for _, key in keys] == ["django-jobs:normalize_emails"] * 2
    assert upgraded.query("SELECT count(*) FROM batch_jobs_checkpoint") == [(0,)]  # finished


def test_a_new_run_takes_the_lock_a_0_2_run_took(postgres):
    """During a rolling upgrade, a 0.2 run in flight holds its advisory lock: this version's
    run of the same job sees it and exits 75."""
    assert {key: lock_id(key) for key in LOCK_IDS} == LOCK_IDS
    database = Upgraded("postgresql", create_database(postgres, "lock_of_0_2")[1], query=None)
    assert database.run(BIN / "job", "migrate", "--noinput").returncode == 0
    with psycopg.connect(database.url, autocommit=True) as v02:
        v02.execute("SELECT pg_advisory_lock(%s)", [LOCK_IDS["django-jobs:cleanup_tokens"]])
        blocked = database.run(BIN / "job", "cleanup_tokens")
    assert blocked.returncode == 75, blocked.stderr
    assert "already running: cleanup_tokens is held by" in blocked.stderr
