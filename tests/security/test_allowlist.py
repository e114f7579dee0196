"""The allowlist cannot destroy data by default: backward and fake migrations through `job`
are refused with 64 and a line naming the setting that allows them (issue 19)."""

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.boundary import assert_contract, last_line
from tests.support.docker import create_database
from tests.support.reliability import FULL
from tests.support.scripts import run

pytestmark = pytest.mark.postgresql

ALLOW = "set JOB_ALLOW_DESTRUCTIVE = True in the settings to allow it"


@pytest.fixture(scope="module")
def database(postgres):
    """A database of this module's own, migrated: the cases try to unapply its migrations."""
    url = create_database(postgres, "security_allowlist")[1]
    migrated = run("job", "migrate", "--noinput", database_url=url)
    assert migrated.exit_code == 0, migrated.stderr
    return url


def tables(url):
    with psycopg.connect(url) as db:
        return {
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND (tablename LIKE 'store_%' OR tablename LIKE 'batch_jobs_%')"
            )
        }


def applied(url):
    with psycopg.connect(url) as db:
        return db.execute("SELECT count(*) FROM django_migrations").fetchone()[0]


REFUSED = [
    (("migrate", "store", "zero"), "would unapply 4 migration(s) (store.0004_require_backfill"),
    (("migrate", "batch_jobs", "zero"), "would unapply 5 migration(s) (batch_jobs.0005_"),
    (("migrate", "store", "0001"), "would unapply 3 migration(s) (store.0004_require_backfill"),
    (("migrate", "--database", "default", "store", "zero"), "would unapply 4 migration(s)"),
    (("migrate", "--fake"), "with --fake would rewrite the migration history"),
    (("migrate", "store", "zero", "--fake"), "with --fake would rewrite"),
    (("migrate", "--fake-initial"), "with --fake-initial would rewrite"),
    (("migrate", "--fake-i"), "with --fake-initial would rewrite"),  # argparse's prefix
    (("migrate", "store", "--prune"), "with --prune would rewrite"),
]


@pytest.mark.parametrize(("words", "why"), REFUSED, ids=[" ".join(w) for w, _ in REFUSED])
def test_job_migrate_store_zero_and_every_destructive_migrate_is_refused_with_64(
    database, words, why
):
    before = (tables(database), applied(database))
    result = run("job", *words, database_url=database)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={64})
    assert len(result.stderr_lines) == 1, result.stderr
    line = last_line(result.stderr)
    assert line.startswith("job: error: migrate ") and why in line, line
    assert line.endswith(f"refused as destructive; {ALLOW}")
    assert (tables(database), applied(database)) == before  # nothing unapplied, nothing faked


@pytest.mark.parametrize(
    "words",
    [
        ("migrate",),
        ("migrate", "store"),
        ("migrate", "store", "0004"),  # where it is: no step at all
        ("migrate", "--plan", "store", "zero"),  # shows the plan, changes nothing
        ("migrate", "--check"),
        ("showmigrations", "store"),
        ("check",),
    ],
    ids=" ".join,
)
def test_what_changes_no_data_still_runs(database, words):
    before = (tables(database), applied(database))
    result = run("job", *words, database_url=database)
    assert result.exit_code == 0, result.stderr
    assert (tables(database), applied(database)) == before


@pytest.mark.parametrize(
    ("words", "code"),
    [(("migrate", "nosuchapp", "zero"), 1), (("migrate", "store", "9999"), 1)],
    ids=["unknown app", "unknown migration"],
)
def test_an_unknown_app_or_migration_is_left_to_migrate_to_refuse(database, words, code):
    """The check cannot tell what they would do; migrate fails on them before any change."""
    before = (tables(database), applied(database))
    result = run("job", *words, database_url=database)
    assert result.exit_code == code
    assert "refused as destructive" not in result.stderr
    assert (tables(database), applied(database)) == before


def test_job_allow_destructive_lets_one_run_go_backward(database):
    result = run(
        "job", "migrate", "store", "0001", database_url=database, env={"JOB_ALLOW_DESTRUCTIVE": "1"}
    )
    assert result.exit_code == 0, result.stderr
    assert "store_reportdelivery" not in tables(database)
    again = run("job", "migrate", "store", database_url=database)  # forward again, allowed
    assert again.exit_code == 0, again.stderr
    assert "store_reportdelivery" in tables(database)


def test_a_bad_value_of_the_setting_is_a_configuration_error(database):
    result = run(
        "job", "migrate", "--plan", database_url=database, env={"JOB_ALLOW_DESTRUCTIVE": "maybe"}
    )
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={78})
    assert "JOB_ALLOW_DESTRUCTIVE" in last_line(result.stderr)


WORDS = st.sampled_from(
    [
        "store",
        "batch_jobs",
        "auth",
        "sessions",
        "nosuchapp",
        "zero",
        "0001",
        "0002",
        "000",
        "0004_shard_plan",
        "--fake",
        "--fake-initial",
        "--fake-i",
        "--prune",
        "--plan",
        "--check",
        "--run-syncdb",
        "--database=default",
        "--noinput",
        "-v2",
        "--help",
    ]
)


@settings(
    max_examples=120 if FULL else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(words=st.lists(WORDS, max_size=4))
def test_no_migrate_command_line_changes_a_migrated_database(database, words, report):
    """Every migration is applied: whatever the arguments, nothing may be unapplied, faked or
    dropped. Exit 1 is migrate's own refusal (an unknown app: Django's CommandError)."""
    before = (tables(database), applied(database))
    result = run("job", "migrate", *words, database_url=database)
    after = (tables(database), applied(database))
    report.add(
        "migrate arguments (hypothesis)", result.exit_code, {0, 1, 2, 64}, lost=int(after != before)
    )
    if "--check" in words and result.exit_code == 1 and not result.stderr:
        pass  # migrate --check: "exits non-zero if there are migrations to run", silently
    else:
        assert_contract(result.exit_code, result.stdout, result.stderr, allowed={0, 1, 2, 64})
    assert after == before, words
