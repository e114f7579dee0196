"""Every example job that writes, run twice in a row through the image: the second run changes
no row and says so in its counters. A job added to the project needs no case here."""

import datetime
import os
import tempfile

import psycopg
import pytest

pytestmark = pytest.mark.image

TODAY = datetime.date.today()
SINCE = (TODAY - datetime.timedelta(days=60)).isoformat()

#: (job, arguments, the run-record counters that count changes, SQL that gives its first run
#: something to do), in the order they run: each works on what the earlier ones left.
CASES = [
    (
        "seed_demo_data",
        ["--users", "2000", "--orders", "5000", "--tokens", "1000", "--days", "60"],
        ["customer_created", "order_created", "authtoken_created"],
        None,
    ),
    ("normalize_emails", ["--batch-size", "500"], ["changed"], None),
    # Expired tokens and yesterday's stats; its steps are child runs, whose counters count.
    ("nightly", [], ["deleted", "created", "updated"], None),
    (
        "cleanup_tokens",
        [],
        ["deleted"],
        "INSERT INTO store_authtoken (value, created_at) "
        "SELECT 'expired-' || i, now() - interval '90 days' FROM generate_series(1, 100) AS i",
    ),
    (
        "compute_daily_stats",
        ["--since", SINCE, "--until", TODAY.isoformat()],
        ["created", "updated"],
        None,
    ),
    ("import_orders", ["/data/orders.csv"], ["created", "updated"], None),
    (
        "prune_job_runs",
        ["--older-than", "30"],
        ["deleted"],
        "INSERT INTO batch_jobs_run (job, arguments, status, exit_code, started_at, finished_at, "
        "host, dry_run, counters, walk, progress, output, stopped_by, error, lock_key) "
        "SELECT 'old', '{}', 'succeeded', 0, now() - interval '90 days', "
        "now() - interval '90 days', '', false, '{}', '{}', '{}', '{}', '', '', '' "
        "FROM generate_series(1, 5)",
    ),
]

#: Everything the jobs write, row by row. Run records are compared only where prune_job_runs
#: acts (older than a day): every run adds its own.
SNAPSHOT = [
    "SELECT id, email, name FROM store_customer ORDER BY id",
    "SELECT id, value, created_at FROM store_authtoken ORDER BY id",
    "SELECT id, external_id, customer_id, amount, created_at FROM store_order ORDER BY id",
    "SELECT date, order_count, total_amount FROM store_dailystat ORDER BY date",
    "SELECT job, arguments_hash, last_key FROM batch_jobs_checkpoint ORDER BY id",
    "SELECT id, job FROM batch_jobs_run WHERE started_at < now() - interval '1 day' ORDER BY id",
]


def snapshot(db):
    return [row for query in SNAPSHOT for row in db.execute(query).fetchall()]


def changes(db, job, counters):
    """The changes the latest run of ``job`` (with its child runs) reports."""
    run_id, own = db.execute(
        "SELECT id, counters FROM batch_jobs_run WHERE job = %s AND parent_id IS NULL "
        "ORDER BY id DESC LIMIT 1",
        [job],
    ).fetchone()
    reports = [own] + [
        row[0]
        for row in db.execute("SELECT counters FROM batch_jobs_run WHERE parent_id = %s", [run_id])
    ]
    return sum(report.get(name, 0) for report in reports for name in counters)


@pytest.fixture
def orders_csv():
    """A CSV of orders the container's user can read, mounted at /data."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "orders.csv")
        with open(path, "w", encoding="utf-8") as f:
            f.write("external_id,amount,created_at\n")
            for i in range(300):
                day = TODAY - datetime.timedelta(days=i % 50)
                f.write(f"import-{i},{i % 97}.25,{day.isoformat()}T12:00:00+00:00\n")
        os.chmod(path, 0o644)
        yield {folder: {"bind": "/data", "mode": "ro"}}


def test_every_writing_job_run_twice_changes_nothing_the_second_time(
    job_image, image_database, orders_csv, report
):
    failures = []
    with psycopg.connect(image_database[1], autocommit=True) as db:
        db.execute(
            "TRUNCATE store_customer, store_authtoken, store_order, store_dailystat, "
            "batch_jobs_run, batch_jobs_checkpoint RESTART IDENTITY CASCADE"
        )
        for name, arguments, counters, setup in CASES:
            if setup:
                db.execute(setup)
            first = job_image.run("job", name, *arguments, test_jobs=False, volumes=orders_csv)
            assert first.exit_code == 0, first.stderr
            assert changes(db, name, counters) > 0, f"{name}'s first run had nothing to do"
            after_first = snapshot(db)
            second = job_image.run("job", name, *arguments, test_jobs=False, volumes=orders_csv)
            rows_changed = len(set(after_first) ^ set(snapshot(db)))
            reported = changes(db, name, counters) if second.exit_code == 0 else 0
            report.add("same job run twice", second.exit_code, {0}, doubled=rows_changed + reported)
            if second.exit_code or rows_changed or reported:
                failures.append((name, second.exit_code, rows_changed, reported, second.stderr))
    assert not failures, failures
