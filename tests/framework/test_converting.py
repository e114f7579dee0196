"""Converting a command is changing its base class: the command's own options, attributes and
exceptions keep their meaning under JobCommand (in-process; the seed suite in tests/seeds
runs the tutorial's commands from the command line too)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.checks import WARNING
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError

from batch_jobs import JobCommand
from batch_jobs.checks import check_job_declarations
from batch_jobs.framework.declaration import flat_attributes
from batch_jobs.models import JobCheckpoint, JobRun
from batch_jobs.testing import run_job
from tests.support.http import silent_server
from tests.support.sessions import database_url, open_session
from tests.support.waits import wait_for
from tests.testjobs.management.commands.echo_args import Command as EchoArgs
from tests.testjobs.models import Item

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def run(command, *args, **options):
    result = run_job(command, *args, **options)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def command_with_own(option, batch):
    class Command(JobCommand):
        class Job:
            batch_size = 10 if batch else None

        def add_arguments(self, parser):
            parser.add_argument(option, action="store_true", dest="own", help="Mine, not yours.")

        def handle(self, *args, **options):
            self.stdout.write(repr(options["own"]))

    return Command()


PLAIN = ["--dry-run", "--max-runtime", "--no-lock", "--skip-if-running", "--skip-checks"]
BATCH = ["--batch-size", "--batch-time", "--restart", "--throttle", "--shard", "--max-lag"]


@pytest.mark.parametrize(
    ("option", "batch"), [(o, False) for o in PLAIN] + [(o, True) for o in BATCH]
)
def test_a_commands_own_option_wins_over_the_frameworks(option, batch):
    command = command_with_own(option, batch)
    help_text = command.create_parser("manage.py", "own").format_help()
    listed = re.findall(rf"^ +{option}\b", help_text, flags=re.M)
    assert len(listed) == 1  # the command's own, once
    assert "Mine, not yours." in help_text
    assert run(command, option) == "True\n"


def test_arguments_of_any_type_are_recorded_as_text_where_json_has_none():
    class Command(JobCommand):
        def add_arguments(self, parser):
            parser.add_argument("--paths", nargs="+", type=Path)
            parser.add_argument("--day", type=date.fromisoformat)
            parser.add_argument("--amount", type=Decimal)
            parser.add_argument("--id", type=uuid.UUID)

        def handle(self, *args, **options):
            self.stdout.write(str(sum(p.suffix == ".csv" for p in options["paths"])))

    some_id = uuid.uuid4()
    args = ["--paths", "a.csv", "b.txt", "--day", "2026-03-14", "--amount", "1.50"]
    assert run(Command(), *args, "--id", str(some_id)) == "1\n"
    record = JobRun.objects.get()
    assert record.status == "succeeded"
    assert {k: record.arguments[k] for k in ("paths", "day", "amount", "id")} == {
        "paths": ["a.csv", "b.txt"],
        "day": "2026-03-14",
        "amount": "1.50",
        "id": str(some_id),
    }


class OwnNames(JobCommand):
    """A command whose own names are the ones the framework once set or read."""

    schedule = ["mon", "wed"]  # its own, not a cron expression
    batch_size = 7

    def run(self):
        return f"{self.batch_size} on {','.join(self.schedule)}"

    def handle(self, *args, **options):
        self.options = "mine"
        self.argv = "mine too"
        self.stdout.write(self.run())


def test_a_commands_own_run_schedule_and_batch_size_keep_their_meaning():
    command = OwnNames()
    assert run(command) == "7 on mon,wed\n"
    assert (command.options, command.argv) == ("mine", "mine too")
    help_text = command.create_parser("manage.py", "own_names").format_help()
    assert "--batch-size" not in help_text  # not a batch job: batch_size is its own
    assert OwnNames._batch_job.schedule is None
    assert JobRun.objects.get().status == "succeeded"


def test_the_run_sets_one_private_attribute_on_the_command():
    class Plain(BaseCommand):
        def handle(self, *args, **options):
            pass

    class Job(JobCommand):
        def handle(self, *args, **options):
            self.counters["done"] += 1

    plain, job = Plain(), Job()
    call_command(plain, stdout=StringIO())
    call_command(job, stdout=StringIO())
    assert set(vars(job)) - set(vars(plain)) == {"_job_run"}
    assert job.counters == {"done": 1}


def test_a_flat_declaration_is_found_for_the_upgrade_warning():
    assert flat_attributes(OwnNames) == ["batch_size", "schedule"]

    class Declared(OwnNames):
        class Job:
            batch_size = 100

    assert flat_attributes(Declared) == ["schedule"]
    assert Declared._batch_job.batch_size == 100
    assert check_job_declarations() == []  # every job of the test project has class Job


def test_a_flat_declaration_gets_the_upgrade_warning(monkeypatch):
    from django.core import management

    from batch_jobs.operations import allowlist

    monkeypatch.setattr(allowlist, "runnable_commands", lambda: {"own_names": "tests.x"})
    monkeypatch.setattr(management, "load_command_class", lambda app, name: OwnNames())
    (warning,) = check_job_declarations()
    assert (warning.id, warning.level, warning.obj) == ("batch_jobs.W001", WARNING, OwnNames)
    assert warning.msg.startswith("job own_names sets batch_size, schedule as a plain class")
    assert "reads its declarations only from the nested `class Job:`" in warning.msg


def test_an_unknown_declaration_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ImproperlyConfigured) as excinfo:

        class Command(JobCommand):
            class Job:
                max_run_time = 60

    assert "class Job has no declaration 'max_run_time'" in str(excinfo.value)
    assert "max_runtime" in str(excinfo.value)


def test_declarations_merge_along_the_mro():
    class Base(JobCommand):
        class Job:
            batch_size = 500
            lock_args = ["tenant"]

    class Child(Base):
        class Job:
            schedule = "@daily"

    assert (Child._batch_job.batch_size, Child._batch_job.schedule) == (500, "@daily")
    assert Child._batch_job.lock_args == ("tenant",)


def test_skip_checks_is_accepted_and_help_shows_settings_and_pythonpath():
    assert run("echo_args", "--skip-checks", "word") == '"word"\n'
    assert run("echo_args", "word", skip_checks=False) == '"word"\n'
    help_text = EchoArgs().create_parser("manage.py", "echo_args").format_help()
    assert "--settings SETTINGS" in help_text and "--pythonpath PYTHONPATH" in help_text


def raising(exception):
    class Command(JobCommand):
        def handle(self, *args, **options):
            raise exception

    return Command()


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (ImproperlyConfigured("no API key"), "failed", 78),
        (KeyboardInterrupt(), "interrupted", 130),
        (OperationalError("could not connect"), "failed", 75),
        (CommandError("bad data", returncode=65), "failed", 65),
        (ValueError("a bug"), "failed", 1),
    ],
)
def test_in_process_the_caller_sees_the_exception_handle_raised(exception, status, code):
    with pytest.raises(type(exception)) as excinfo:  # call_command's own behaviour
        call_command(raising(exception), stdout=StringIO())
    assert excinfo.value is exception
    record = JobRun.objects.get()
    assert (record.status, record.exit_code) == (status, code)


@pytest.mark.parametrize(
    ("exit_code", "status", "code"), [(0, "succeeded", 0), (None, "succeeded", 0), (4, "failed", 4)]
)
def test_system_exit_is_its_code(exit_code, status, code):
    with pytest.raises(SystemExit):
        call_command(raising(SystemExit(exit_code)), stdout=StringIO())
    record = JobRun.objects.get()
    assert (record.status, record.exit_code) == (status, code)


def test_events_go_to_call_commands_stderr_and_nowhere_without_it(capfd, caplog):
    err = StringIO()
    call_command("echo_args", "word", stdout=StringIO(), stderr=err)
    lines = [json.loads(line) for line in err.getvalue().splitlines()]
    assert [e["event"] for e in lines] == ["start", "finish"]
    assert lines[1]["status"] == "succeeded"
    capfd.readouterr()
    with caplog.at_level("INFO", logger="batch_jobs"), pytest.raises(CommandError):
        call_command("fail_with", "65", stdout=StringIO())
    assert capfd.readouterr().err == ""  # a test's call_command stays quiet...
    finish = [r for r in caplog.records if getattr(r, "event", None) == "finish"]
    assert finish[-1].exit_code == 65  # ...and its events still reach the logger


def test_max_runtime_declared_limits_a_manual_run():
    class Command(JobCommand):
        class Job:
            max_runtime = 0.2

        def handle(self, *args, **options):
            while True:
                self.check_stop()
                time.sleep(0.02)

    command = Command()
    help_text = " ".join(command.create_parser("m", "c").format_help().split())
    assert "(default 0.2, the job's max_runtime)" in help_text
    assert run_job(command).exit_code == 75
    assert JobRun.objects.get().status == "interrupted"


def test_sigterm_in_a_throttle_pause_stops_at_once_with_143():
    Item.objects.bulk_create(Item(name=f"item-{i}") for i in range(30))
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_EXTRA_APPS": "tests.testjobs"}
    job = Path(sys.executable).with_name("job")
    args = [job, "upper_items", "--batch-size", "10", "--throttle", "600"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The first batch committed: the pause has begun.
        wait_for(JobCheckpoint.objects.exists, "the first batch's checkpoint")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)  # far less than the pause
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    record = JobRun.objects.get(job="upper_items")
    assert (record.status, record.exit_code, record.counters) == (
        "interrupted",
        143,
        {"checked": 10, "changed": 10},
    )


def job_process(*args, **env):
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_EXTRA_APPS": "tests.testjobs",
        "JOB_LOG_FORMAT": "json",
        **env,
    }
    command = [Path(sys.executable).with_name("job"), *args]
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_nested_run_leaves_its_caller_stopping_at_once():
    """The nested job checks for stops; the command that called it never does, so after the
    nested run the first SIGTERM still stops it at once, not after its minute of work."""
    process = job_process("nested_then_busy")
    try:
        for line in process.stdout:  # the nested run's output, then this one's
            if line == "busy\n":  # the nested run is over
                break
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)  # far less than the minute
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    outer = JobRun.objects.get(job="nested_then_busy")
    assert (outer.status, outer.exit_code) == ("interrupted", 143)


@pytest.mark.slow
def test_a_signal_during_the_bookkeeping_is_recorded_before_the_work_begins():
    """SIGTERM while the start ping hangs (a monitor that does not answer): the run stops
    before the job's code runs, and its record says so instead of staying `running`."""
    with silent_server() as url:
        process = job_process("echo_args", "x", JOB_PING_URL=url, JOB_MONITOR_TIMEOUT="5")
        try:
            wait_for(
                lambda: JobRun.objects.filter(job="echo_args").exists() or process.poll(),
                "the run record, then the start ping",
            )
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            process.kill()
    assert process.returncode == 143, stderr
    record = JobRun.objects.get(job="echo_args")
    assert (record.status, record.exit_code) == ("interrupted", 143)
    assert record.finished_at is not None


@pytest.mark.postgresql
def test_a_signal_stops_a_command_waiting_on_a_statement_at_once():
    """A command that never checks, in a minute-long statement: the first SIGTERM ends the
    statement and the run at once, on either driver (psycopg 2 waits inside libpq, where no
    Python signal handler runs until the statement returns)."""
    process = job_process("db_timeout", "sleep")
    try:
        with open_session() as session:
            wait_for(
                lambda: (
                    process.poll() is not None
                    or session.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE query = 'SELECT pg_sleep(60)' AND state = 'active' "
                        "AND datname = current_database()"  # the lanes share the server
                    ).fetchone()[0]
                ),
                "the minute-long statement",
            )
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)  # far less than the minute
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    record = JobRun.objects.get(job="db_timeout")
    assert (record.status, record.exit_code) == ("interrupted", 143)
