"""Every row of the exit-code contract produced by real behaviour, through the real image."""

import json
import time

import psycopg
import pytest

from batch_jobs.framework.lock import lock_id
from tests.support.docker import finish
from tests.support.waits import wait_for

pytestmark = pytest.mark.image

SLOW_LOCK = "django-jobs:slow_batches"


@pytest.fixture
def db(image_database):
    """A connection to the image tests' database, emptied of the tables the tests write."""
    with psycopg.connect(image_database[1], autocommit=True) as conn:
        conn.execute("TRUNCATE testjobs_item, batch_jobs_run RESTART IDENTITY CASCADE")
        yield conn


def wait_for_output(container, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in container.logs(stdout=True, stderr=False).decode():
            return
        container.reload()
        if container.status == "exited":
            break
        time.sleep(0.05)
    logs = container.logs().decode()
    raise AssertionError(f"{text!r} never appeared:\n{logs}")


def events(stderr):
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def rows(db, tag):
    return db.execute(
        "SELECT count(*) FROM testjobs_item WHERE name LIKE %s", [f"{tag}-%"]
    ).fetchone()[0]


def runs(db):
    return db.execute("SELECT status, exit_code, error FROM batch_jobs_run ORDER BY id").fetchall()


# -- 78: configuration errors --------------------------------------------------------------

PASSWORDS = ("S3cr3t", "wrong-Pa55")


def assert_config_error(result, report):
    leaked = any(p in result.stdout + result.stderr for p in PASSWORDS)
    report.add("malformed or missing configuration", result.exit_code, {78}, lost=int(leaked))
    assert result.exit_code == 78
    assert not leaked


def test_missing_database_url_is_a_configuration_error(job_image, report):
    result = job_image.run("job", "cleanup_tokens", env={"DATABASE_URL": None})
    assert_config_error(result, report)
    # The hint's PASSWORD goes through the redaction step too, as any password would.
    assert result.stderr_lines == [
        "job: error: configuration error: DATABASE_URL is not set; give it (or "
        "DATABASE_URL_FILE) as postgres://USER:***@HOST:5432/NAME or "
        "mysql://USER:***@HOST:3306/NAME"
    ]


def test_variable_and_file_both_set_names_both(job_image, report):
    env = {"DATABASE_URL_FILE": "/opt/testpkgs/tests/testjobs/__init__.py"}
    result = job_image.run("job", "cleanup_tokens", env=env)
    assert_config_error(result, report)
    assert "DATABASE_URL and DATABASE_URL_FILE are both set" in result.stderr


def test_unreadable_secret_file_is_a_configuration_error(job_image, report):
    env = {"DATABASE_URL": None, "DATABASE_URL_FILE": "/run/secrets/missing"}
    result = job_image.run("job", "cleanup_tokens", env=env)
    assert_config_error(result, report)
    assert "DATABASE_URL_FILE points to '/run/secrets/missing', which cannot be read" in (
        result.stderr
    )


def test_malformed_database_url_is_78_and_never_shows_the_password(job_image, report):
    result = job_image.run("job", "cleanup_tokens", env={"DATABASE_URL": "postgres:/u:S3cr3t@h"})
    assert_config_error(result, report)
    assert "DATABASE_URL is malformed" in result.stderr
    assert "S3cr3t" not in result.stderr + result.stdout


def test_a_malformed_replica_url_is_78_naming_the_variable(job_image, report):
    urls = "mysql://u:S3cr3t@replica:3306/jobs,mysql:/u:S3cr3t@h"
    result = job_image.run("job", "cleanup_tokens", env={"JOB_REPLICA_DATABASE_URLS": urls})
    assert_config_error(result, report)
    assert "JOB_REPLICA_DATABASE_URLS is malformed" in result.stderr


def test_wrong_password_is_78_at_once(job_image, report):
    url = job_image.database_url.replace("test-password", "wrong-Pa55")
    result = job_image.run("job", "cleanup_tokens", env={"DATABASE_URL": url})
    assert_config_error(result, report)
    assert "password authentication failed" in result.stderr
    assert "wrong-Pa55" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("JOB_DB_TIMEOUT", "abc"), ("JOB_DB_WAIT_SECONDS", "-1"), ("JOB_PROGRESS_INTERVAL", "nan")],
)
def test_a_malformed_number_of_seconds_is_78_naming_the_variable(
    job_image, report, variable, value
):
    result = job_image.run("job", "cleanup_tokens", env={variable: value})
    assert_config_error(result, report)
    assert result.stderr.splitlines() == [
        f"job: error: configuration error: {variable} must be zero or more seconds, not '{value}'"
    ]


# -- 69: database unreachable --------------------------------------------------------------


def test_unreachable_database_exits_69_within_the_bound(job_image):
    env = {
        "DATABASE_URL": "postgres://jobs:pw@nowhere.invalid:5432/jobs",
        "JOB_DB_WAIT_SECONDS": "2",
    }
    result = job_image.run("job", "cleanup_tokens", env=env, timeout=60)
    assert result.exit_code == 69
    assert "database unreachable at nowhere.invalid:5432/jobs" in result.stderr
    waits = [e for e in events(result.stderr) if e.get("event") == "db_wait"]
    assert len(waits) >= 2  # it retried before giving up


# -- 75 and 0: the overlap lock ------------------------------------------------------------


def test_second_run_exits_75_while_the_lock_is_held(job_image, db):
    db.execute("SELECT pg_advisory_lock(%s)", [lock_id(SLOW_LOCK)])
    try:
        result = job_image.run("job", "slow_batches", "--sleep", "0")
        skipped = job_image.run("job", "slow_batches", "--sleep", "0", "--skip-if-running")
    finally:
        db.execute("SELECT pg_advisory_unlock(%s)", [lock_id(SLOW_LOCK)])
    assert result.exit_code == 75
    assert "already running: slow_batches" in result.stderr
    assert skipped.exit_code == 0
    assert rows(db, "slow") == 0


def test_two_concurrent_runs_one_works_the_other_exits_75(job_image, db):
    # Long enough that the second container starts while the first holds the lock, however
    # slowly a loaded machine starts containers.
    first = job_image.start("job", "slow_batches", "--batches", "30", "--sleep", "0.5")
    wait_for_output(first, "batch 0 written")
    second = finish(job_image.start("job", "slow_batches", "--batches", "4", "--sleep", "0.5"))
    assert rows(db, "slow") < 30 * 5, "the first run ended before the second began"
    first = finish(first)
    assert sorted([first.exit_code, second.exit_code]) == [0, 75]
    assert "already running" in second.stderr
    assert rows(db, "slow") == 30 * 5
    assert sorted(status for status, *_ in runs(db)) == ["blocked", "succeeded"]


def test_jobctl_stop_reaches_a_run_in_another_container(job_image, db):
    container = job_image.start(
        "job",
        "slow_batches",
        "--batches",
        "40",
        "--sleep",
        "0.3",
        env={"JOB_PROGRESS_INTERVAL": "0.2"},
    )
    wait_for_output(container, "batch 1 written")
    (run_id,) = db.execute("SELECT id FROM batch_jobs_run WHERE status = 'running'").fetchone()
    stop = job_image.run("jobctl", "stop", str(run_id), "--by", "ops")
    assert stop.exit_code == 0, stop.stderr
    result = finish(container)
    assert result.exit_code == 3, result.stderr
    assert result.stderr.splitlines()[-1] == "CommandError: stopped by ops"
    assert runs(db) == [("stopped", 3, "stopped by ops")]
    assert 0 < rows(db, "slow") < 40 * 5 and rows(db, "slow") % 5 == 0  # whole batches


# -- 143 / 130: graceful stop --------------------------------------------------------------


@pytest.mark.parametrize(("signal", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_stops_after_the_current_batch(job_image, db, signal, code):
    container = job_image.start("job", "slow_batches", "--batches", "20", "--sleep", "0.4")
    wait_for_output(container, "batch 2 written")
    container.kill(signal=signal)
    result = finish(container)
    assert result.exit_code == code, result.stderr
    written = result.stdout.count(" written")
    assert rows(db, "slow") == written * 5  # the batch in flight committed whole
    assert 3 <= written < 20
    assert runs(db) == [("interrupted", code, f"stopped by {signal}")]
    finish_event = events(result.stderr)[-1]
    assert finish_event["event"] == "finish"
    assert finish_event["exit_code"] == code
    assert finish_event["counters"]["batches"] == written


def test_a_second_signal_stops_at_once_and_rolls_back(job_image, db):
    container = job_image.start("job", "slow_batches", "--batches", "20", "--sleep", "5")
    wait_for_output(container, "batch 1 written")
    container.kill(signal="SIGTERM")
    wait_for(  # the first signal was handled: the second is a second one, not a coalesced one
        lambda: "stop requested by SIGTERM" in container.logs(stdout=False).decode(),
        "the first SIGTERM's stop request in the log",
    )
    container.kill(signal="SIGTERM")
    result = finish(container, timeout=4)  # well before the 5 s batch could finish
    assert result.exit_code == 143
    written = result.stdout.count(" written")
    assert rows(db, "slow") == (written - 1) * 5  # the batch in flight was rolled back
    assert runs(db)[0][:2] == ("interrupted", 143)


def test_a_killed_run_is_marked_abandoned_by_the_next(job_image, db):
    container = job_image.start("job", "slow_batches", "--batches", "20", "--sleep", "0.3")
    wait_for_output(container, "batch 1 written")
    container.kill(signal="SIGKILL")
    assert finish(container).exit_code == 137
    assert runs(db)[0][0] == "running"
    result = job_image.run("job", "slow_batches", "--batches", "1", "--sleep", "0")
    assert result.exit_code == 0, result.stderr
    first, second = runs(db)
    assert first[0] == "abandoned"
    assert second[:2] == ("succeeded", 0)


# -- 75: connection lost mid-run -----------------------------------------------------------


def test_connection_lost_mid_run_exits_75_with_the_batch_rolled_back(job_image, db):
    container = job_image.start("job", "slow_batches", "--batches", "20", "--sleep", "1")
    wait_for_output(container, "batch 1 written")
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    result = finish(container)
    assert result.exit_code == 75, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("CommandError:")]
    assert len(lines) == 1 and "database error, safe to retry" in lines[0]
    assert "Traceback" not in result.stderr
    written = result.stdout.count(" written")
    assert rows(db, "slow") == (written - 1) * 5
    acquired = db.execute("SELECT pg_try_advisory_lock(%s)", [lock_id(SLOW_LOCK)]).fetchone()[0]
    assert acquired  # the dead run's lock went with its connection
    db.execute("SELECT pg_advisory_unlock(%s)", [lock_id(SLOW_LOCK)])


# -- logs ----------------------------------------------------------------------------------


def test_json_log_events_carry_run_id_and_end_with_a_summary(job_image, db):
    result = job_image.run("job", "slow_batches", "--batches", "2", "--sleep", "0")
    assert result.exit_code == 0
    log = events(result.stderr)
    assert [e["event"] for e in (log[0], log[-1])] == ["start", "finish"]
    assert {e["run_id"] for e in log} == {log[0]["run_id"]} and log[0]["run_id"]
    assert all(e["job"] == "slow_batches" for e in log)
    assert log[-1]["exit_code"] == 0
    assert log[-1]["counters"] == {"batches": 2, "rows": 10}
    assert log[-1]["duration_s"] >= 0


# -- 3 and 0: pause, resume and retry, across containers -------------------------------------


def test_pause_resume_and_retry_a_walk_across_containers(job_image, db):
    """A walk in one container, paused from another: it stops at a batch boundary (3); the
    schedule's run and a retry do nothing while paused (0, skipped); after resume, a retry of
    the stopped run goes on from the checkpoint. Every row once, none twice."""
    db.execute(
        "INSERT INTO testjobs_item (name, batch) SELECT 'item-' || g, '' "
        "FROM generate_series(1, 400) g"
    )
    db.execute("TRUNCATE batch_jobs_checkpoint, batch_jobs_pause, batch_jobs_request")
    walk = ["job", "upper_items", "--batch-size", "10", "--throttle", "0.1"]
    env = {"JOB_PROGRESS_INTERVAL": "0.2"}
    container = job_image.start(*walk, env=env)
    deadline = time.monotonic() + 60
    while not db.execute("SELECT rows FROM batch_jobs_checkpoint").fetchone():
        assert time.monotonic() < deadline, container.logs().decode()
        time.sleep(0.05)
    paused = job_image.run("jobctl", "pause", "upper_items", "--by", "ops")
    assert paused.exit_code == 0, paused.stderr
    stopped = finish(container)
    assert stopped.exit_code == 3, stopped.stderr
    assert stopped.stderr.splitlines()[-1].startswith("CommandError: paused by ops")
    (first_id, done), *_ = db.execute(
        "SELECT id, (counters->>'checked')::int FROM batch_jobs_run ORDER BY id"
    ).fetchall()
    (checkpoint,) = db.execute("SELECT rows FROM batch_jobs_checkpoint").fetchone()
    assert 0 < done < 400 and done % 10 == 0 and checkpoint == done  # whole batches, kept
    upper = "SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'"
    assert db.execute(upper).fetchone()[0] == done

    scheduled = job_image.run("job", "upper_items", "--batch-size", "10", env=env)
    retried = job_image.run("jobctl", "retry", str(first_id), "--by", "ops", env=env)
    for result in (scheduled, retried):
        assert result.exit_code == 0, result.stderr
        assert "upper_items is paused (by ops" in result.stderr
    assert db.execute(upper).fetchone()[0] == done  # the paused job did nothing

    assert job_image.run("jobctl", "resume", "upper_items", "--by", "ops").exit_code == 0
    resumed = job_image.run("jobctl", "retry", str(first_id), "--by", "ops", env=env)
    assert resumed.exit_code == 0, resumed.stderr
    assert db.execute(upper).fetchone()[0] == 400
    assert db.execute("SELECT count(*) FROM batch_jobs_checkpoint").fetchone()[0] == 0
    records = db.execute(
        "SELECT status, exit_code, (counters->>'checked')::int, argv FROM batch_jobs_run "
        "ORDER BY id"
    ).fetchall()
    assert [(status, code) for status, code, *_ in records] == [
        ("stopped", 3),
        ("skipped", 0),
        ("skipped", 0),
        ("succeeded", 0),
    ]
    assert records[0][2] + records[3][2] == 400  # every row walked once, across two runs
    assert records[3][3] == walk[2:]  # the retry ran the stopped run's command line
    requests = db.execute(
        "SELECT action, requested_by FROM batch_jobs_request ORDER BY id"
    ).fetchall()
    assert requests == [("pause", "ops"), ("retry", "ops"), ("resume", "ops"), ("retry", "ops")]


# -- sharded walks: an Indexed Job's pods, as containers -------------------------------------


def test_four_shards_as_four_containers_and_one_killed_shard_rerun_alone(job_image, db):
    db.execute(
        "INSERT INTO testjobs_item (name, batch) SELECT 'item-' || g, '' "
        "FROM generate_series(1, 800) g"
    )
    db.execute("TRUNCATE batch_jobs_checkpoint, batch_jobs_shard_plan")
    walk = ["job", "upper_items", "--batch-size", "10", "--throttle", "0.1"]

    def shard(index):  # as Kubernetes starts an Indexed Job's pod
        return job_image.start(*walk, env={"JOB_COMPLETION_INDEX": str(index), "JOB_SHARDS": "4"})

    containers = [shard(index) for index in range(4)]
    deadline = time.monotonic() + 60
    while True:  # until shard 2 has committed a batch of its range
        plan = db.execute("SELECT bounds FROM batch_jobs_shard_plan").fetchone()
        if (
            plan
            and db.execute(
                "SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%%' AND id > %s "
                "AND id <= %s",
                plan[0][1:3],
            ).fetchone()[0]
        ):
            break
        assert time.monotonic() < deadline, containers[2].logs().decode()
        time.sleep(0.05)
    containers[2].kill(signal="SIGKILL")
    results = [finish(container) for container in containers]
    assert [r.exit_code for r in results] == [0, 0, 137, 0], [r.stderr for r in results]
    upper = "SELECT count(*) FROM testjobs_item WHERE name LIKE 'ITEM-%'"
    assert 600 < db.execute(upper).fetchone()[0] < 800

    rerun = finish(shard(2))  # that index alone, as its retry
    assert rerun.exit_code == 0, rerun.stderr
    assert db.execute(upper).fetchone()[0] == 800
    records = db.execute(
        "SELECT arguments->>'shard', status, (counters->>'checked')::int, "
        "(walk->'counters'->>'checked')::int FROM batch_jobs_run ORDER BY id"
    ).fetchall()
    by_shard = {}
    for name, status, checked, walked in records:
        by_shard.setdefault(name, []).append((status, checked, walked))
    assert sorted(by_shard) == ["0/4", "1/4", "2/4", "3/4"]
    killed, resumed = by_shard["2/4"]
    assert killed[0] == "abandoned" and resumed[0] == "succeeded"
    assert 0 < resumed[1] < resumed[2]  # the rerun walked only what was left of its range
    whole = sum(runs[0][1] for name, runs in by_shard.items() if name != "2/4") + resumed[2]
    assert whole == 800  # every row once across the shards, none twice
    assert db.execute("SELECT count(*) FROM batch_jobs_shard_plan").fetchone()[0] == 0
