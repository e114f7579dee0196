"""A dry run the job's code does not honour writes nothing (framework/dryrun.py): until the
job reads ``self.dry_run``, a write under the framework's ``--dry-run`` is refused (78)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch_jobs import JobCommand
from batch_jobs.framework.dryrun import rolls_back, writes
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job
from tests.support.sessions import database_url
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def items():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(5))


def names():
    return sorted(Item.objects.values_list("name", flat=True))


def test_a_converted_command_that_never_reads_the_flag_writes_nothing_in_a_dry_run(items):
    before = names()
    result = run_job("careless_writer", dry_run=True)
    assert result.exit_code == 78
    assert names() == before
    record = JobRun.objects.get(job="careless_writer")
    assert (record.status, record.exit_code, record.dry_run) == ("failed", 78, True)
    assert "dry run refused UPDATE testjobs_item" in record.error
    assert "never read self.dry_run" in record.error


def test_raw_sql_behind_comments_and_parentheses_is_refused_too(items):
    before = names()
    assert run_job("careless_writer", raw=True, dry_run=True).exit_code == 78
    assert names() == before


def test_a_job_that_reads_the_flag_is_trusted_with_it(items):
    result = run_job("careless_writer", reads_flag=True, dry_run=True)
    assert result.exit_code == 0, result.stderr
    assert set(names()) == {"renamed"}  # it read the flag, and chose to write anyway


def test_a_walk_in_a_dry_run_is_rolled_back_and_the_write_after_it_refused(items):
    result = run_job("careless_writer", after_walk=True, dry_run=True)
    assert result.exit_code == 78
    assert set(Item.objects.values_list("batch", flat=True)) == {""}  # the walk rolled back
    assert set(names()) != {"renamed"}


def test_without_dry_run_nothing_is_guarded(items):
    assert run_job("careless_writer").exit_code == 0
    assert set(names()) == {"renamed"}


def test_a_job_written_for_the_framework_runs_its_dry_run(items):
    assert run_job("upper_items", dry_run=True).exit_code == 0
    assert JobRun.objects.get(job="upper_items").status == "succeeded"
    assert names() == [f"item-{i}" for i in range(5)]


class OwnFlag(JobCommand):
    """As the seed tutorial's commands: --dry-run of its own, read from ``options``."""

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options):
        Item.objects.update(name="renamed")  # its author's choice: trusted


def test_a_command_with_its_own_dry_run_option_is_trusted(items):
    assert run_job(OwnFlag(), dry_run=True).exit_code == 0
    assert set(names()) == {"renamed"}


def test_from_the_command_line_one_line_and_exit_78(items):
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_EXTRA_APPS": "tests.testjobs"}
    job = Path(sys.executable).with_name("job")
    done = subprocess.run(
        [job, "careless_writer", "--dry-run"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 78, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "dry run refused UPDATE testjobs_item" in last
    assert "Traceback" not in done.stderr
    assert len({name for name in names()}) == 5


@pytest.mark.parametrize(
    "sql",
    [
        'INSERT INTO "t" VALUES (1)',
        "  update t set a = 1",
        "/* x */ DELETE FROM t",
        "-- x\nTRUNCATE t",
        "(UPDATE t SET a = 1)",
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "COPY t FROM STDIN",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN b int",
        "REPLACE INTO t VALUES (1)",
    ],
)
def test_writes_are_recognised(sql):
    assert writes(sql) is not None


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT * FROM "t"',
        "SELECT * FROM t FOR UPDATE",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "COPY t TO STDOUT",
        "SAVEPOINT s1",
        "SET statement_timeout = 0",
        "EXPLAIN SELECT 1",
        'INSERT INTO "batch_jobs_jobrun" ("job") VALUES (%s)',
        'UPDATE "batch_jobs_jobrun" SET "status" = %s',
        "DELETE FROM `batch_jobs_jobcheckpoint`",
    ],
)
def test_reads_and_the_frameworks_own_tables_pass(sql):
    assert writes(sql) is None


@given(st.text(max_size=200))
def test_the_classifier_takes_any_text(sql):
    assert writes(sql) is None or isinstance(writes(sql), str)


@pytest.mark.parametrize(
    ("sql", "undone"),
    [
        ("UPDATE t SET a = 1", True),
        ("CREATE TEMPORARY TABLE s (id int)", True),
        ("DROP TEMPORARY TABLE IF EXISTS s", True),
        ("TRUNCATE s", False),
        ("ALTER TABLE t ADD COLUMN b int", False),
        ("/* x */ DROP TABLE t", False),
    ],
)
def test_what_a_rollback_undoes_where_ddl_commits(sql, undone):
    assert rolls_back(sql) is undone


def test_a_batch_in_a_dry_run_may_write_only_on_the_walks_own_database(items):
    # The walk rolls back its batch on "default"; a write through another alias would commit.
    result = run_job("careless_writer", after_walk=True, other_alias=True, dry_run=True)
    assert result.exit_code == 78
    assert "dry run refused UPDATE testjobs_item" in JobRun.objects.get().error
    assert set(Item.objects.values_list("batch", flat=True)) == {""}
