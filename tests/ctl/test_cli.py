"""jobctl through click's CliRunner: every command's output and exit codes.

The catalog is limited to the test jobs and the framework's own (``JOB_APPS``), so that the
example project can add or change jobs without touching these tests."""

import datetime
import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from django.core.exceptions import ImproperlyConfigured

from batch_jobs import JobCommand
from batch_jobs.cli.jobctl import cli
from batch_jobs.models import JobRun
from batch_jobs.operations import catalog
from batch_jobs.operations.render.cron import Unsupported, on_calendar
from tests.support.sessions import open_session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def only_test_jobs(settings):
    settings.JOB_APPS = ["testjobs", "batch_jobs"]


def jobctl(*args):
    return CliRunner().invoke(cli, list(args), prog_name="jobctl")


def test_list_shows_every_job_with_schedule_and_help():
    result = jobctl("list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "SCHEDULE", "HELP"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "30 2 * * *" in rows["scheduled_noop"]
    assert rows["crash"].split(None, 2)[1:] == ["-", "Raise an unexpected exception."]
    assert {"upper_items", "slow_batches", "prune_job_runs"} <= rows.keys()
    assert "migrate" not in rows  # not a JobCommand
    assert "cleanup_tokens" not in rows  # an example job, outside JOB_APPS


def test_list_json():
    result = jobctl("list", "--json")
    jobs = {j["name"]: j for j in json.loads(result.output)}
    assert jobs["prune_job_runs"] == {
        "name": "prune_job_runs",
        "schedule": "0 4 * * 0",
        "timezone": None,
        "help": "Delete run records that finished more than --older-than days ago, and uploads "
        "older than JOB_UPLOAD_RETENTION days.",
    }


@pytest.mark.django_db  # describe reads whether the job is paused
def test_describe_shows_schedule_lock_and_the_next_five_runs():
    result = jobctl("describe", "scheduled_noop")
    assert result.exit_code == 0, result.output
    assert "schedule: 30 2 * * *" in result.output
    assert "lock: one run at a time" in result.output
    assert "database deadline: 300s per batch or statement\n" in result.output
    assert "usage: job scheduled_noop" in result.output
    runs = [
        datetime.datetime.fromisoformat(line.strip())
        for line in result.output.split("next runs:\n")[1].splitlines()[:5]
    ]
    now = datetime.datetime.now(datetime.UTC)
    assert all((r.hour, r.minute, r.utcoffset()) == (2, 30, datetime.timedelta(0)) for r in runs)
    assert now < runs[0] <= now + datetime.timedelta(days=1)
    assert [b - a for a, b in itertools.pairwise(runs)] == [datetime.timedelta(days=1)] * 4


def test_describe_an_unknown_job_exits_64_with_a_hint():
    result = jobctl("describe", "scheduled_nop")
    assert result.exit_code == 64
    assert result.output == "Error: unknown job 'scheduled_nop'; did you mean scheduled_noop?\n"


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


def test_render_kubernetes_produces_valid_cronjobs_with_the_contract():
    result = jobctl(
        "render", "kubernetes", "--image", "registry.example.com/t/jobs:1.2", "--namespace", "ops"
    )
    assert result.exit_code == 0, result.output
    manifests = documents(result.output)
    assert [m["metadata"]["name"] for m in manifests] == ["prune-job-runs", "scheduled-noop"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.31", strict=True)
        spec = manifest["spec"]
        assert manifest["metadata"]["namespace"] == "ops"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] > 0
        job = spec["jobTemplate"]["spec"]
        rules = job["podFailurePolicy"]["rules"]
        assert rules[0] == {
            "action": "FailJob",
            "onExitCodes": {"containerName": "job", "operator": "In", "values": [2, 3, 64, 65, 78]},
        }
        assert rules[1] == {
            "action": "Ignore",
            "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
        }
        pod = job["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        assert container["name"] == "job"
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    scheduled = manifests[1]["spec"]["jobTemplate"]["spec"]
    # Per pod: max_runtime + the grace period. Per Job: 3 attempts (retries 2), each with 60 s
    # to start, plus the back-off between them (10 s, then 20 s).
    assert scheduled["template"]["spec"]["activeDeadlineSeconds"] == 3600 + 60
    assert scheduled["activeDeadlineSeconds"] == 3 * (3600 + 60 + 60) + 10 + 20
    assert scheduled["template"]["spec"]["containers"][0]["args"] == [
        "job",
        "scheduled_noop",
        "--max-runtime",
        "3600",
    ]


def test_render_a_one_off_job_with_arguments():
    result = jobctl(
        "render",
        "kubernetes",
        "--image",
        "jobs:1",
        "--job",
        "upper_items",
        "--",
        "--strategy",
        "set",
    )
    assert result.exit_code == 0, result.output
    (manifest,) = documents(result.output)
    kubernetes_validate.validate(manifest, "1.31", strict=True)
    assert manifest["kind"] == "Job"
    assert manifest["metadata"]["generateName"] == "upper-items-"
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["job", "upper_items", "--strategy", "set"]


def test_render_a_sharded_walk_as_an_indexed_job():
    result = jobctl(
        "render", "kubernetes", "--image", "jobs:1", "--job", "upper_items", "--shards", "4",
        "--", "--strategy", "set",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (manifest,) = documents(result.output)
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    spec = manifest["spec"]
    assert {k: spec[k] for k in list(spec)[:6]} == {
        "completionMode": "Indexed",
        "completions": 4,
        "parallelism": 4,
        "backoffLimitPerIndex": 2,
        "maxFailedIndexes": 4,  # a failed shard never stops the others
        "podReplacementPolicy": "Failed",
    }
    assert "backoffLimit" not in spec
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0]["action"] == "FailIndex"
    assert rules[0]["onExitCodes"]["values"] == [2, 3, 64, 65, 78]
    assert rules[1]["action"] == "Ignore"
    container = spec["template"]["spec"]["containers"][0]
    assert container["args"] == ["job", "upper_items", "--strategy", "set"]
    assert {"name": "JOB_SHARDS", "value": "4"} in container["env"]


def test_a_scheduled_job_declares_shards_for_its_cronjob(settings):
    class Command(JobCommand):
        class Job:
            batch_size = 100
            schedule = "0 3 * * *"
            shards = 3
            max_runtime = 600

    job = catalog.Job("sharded", Command())
    from batch_jobs.operations.render.kubernetes import Target, cron_job

    manifest = cron_job(job, Target(image="jobs:1", app="app", uid=10001, secret="app"))
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    spec = manifest["spec"]["jobTemplate"]["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert spec["activeDeadlineSeconds"] == 3 * (600 + 60 + 60) + 10 + 20  # every index's
    with pytest.raises(ImproperlyConfigured, match="shards = 2 needs a batch job"):

        class NotABatchJob(JobCommand):
            class Job:
                shards = 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shards", "4"], "--shards goes with --job NAME"),
        (["--job", "echo_args", "--shards", "2"], "job echo_args is not a batch job"),
        (
            ["--job", "upper_items", "--shards", "2", "--", "--shard", "1/2"],
            "--shards gives each pod its shard; leave --shard out",
        ),
        (["--job", "upper_items", "--shards", "0"], "--shards: must be a whole number of shards"),
    ],
)
def test_render_refuses_shards_that_cannot_work(args, message):
    result = jobctl("render", "kubernetes", "--image", "jobs:1", *args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--image", "Not An Image"], 2, "--image: must be an image reference"),
        (["--image", "jobs:1", "--job", "nope"], 64, "unknown job 'nope'"),
        (
            ["--image", "jobs:1", "--job", "upper_items", "--", "--shards", "4"],
            2,
            "job upper_items would refuse them: unrecognized arguments: --shards 4",
        ),
        (
            ["--image", "jobs:1", "--job", "upper_items", "--", "--strategy", "fast"],
            2,
            "argument --strategy: invalid choice: 'fast'",
        ),
        (["--image", "jobs:1", "--", "--strategy", "set"], 2, "go with --job NAME"),
        ([], 2, "Missing option '--image'"),
    ],
)
def test_render_kubernetes_errors(args, code, message):
    result = jobctl("render", "kubernetes", *args)
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_no_scheduled_jobs_exits_64(monkeypatch):
    monkeypatch.setattr(catalog, "scheduled_jobs", list)
    for kind in (["kubernetes", "--image", "jobs:1"], ["crontab"], ["systemd"]):
        result = jobctl("render", *kind)
        assert result.exit_code == 64
        assert "no job declares a schedule" in result.output


def test_render_crontab():
    result = jobctl(
        "render", "crontab", "--job-bin", "/opt/venv/bin/job", "--log-dir", "/var/log/j"
    )
    assert result.exit_code == 0, result.output
    assert (
        f"30 2 * * * cd {ROOT} && /opt/venv/bin/job scheduled_noop --max-runtime 3600 "
        ">> /var/log/j/scheduled_noop.log 2>&1"
    ) in result.output.splitlines()  # the folder holding tests/, the settings' package
    assert "CRON_TZ=UTC" in result.output.splitlines()
    assert "DJANGO_SETTINGS_MODULE=tests.settings" in result.output.splitlines()


def test_render_crontab_needs_an_absolute_job_bin():
    result = jobctl("render", "crontab", "--job-bin", "venv/bin/job")
    assert result.exit_code == 2
    assert "--job-bin: must be the absolute path of a file" in result.output


def test_render_systemd(tmp_path):
    result = jobctl(
        "render", "systemd", "--job-bin", "/opt/venv/bin/job", "--output-dir", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "django-jobs-prune-job-runs.service",
        "django-jobs-prune-job-runs.timer",
        "django-jobs-scheduled-noop.service",
        "django-jobs-scheduled-noop.timer",
    ]
    timer = (tmp_path / "django-jobs-prune-job-runs.timer").read_text()
    assert "OnCalendar=Sun *-*-* 4:0:00\n" in timer and "Persistent=true\n" in timer
    service = (tmp_path / "django-jobs-scheduled-noop.service").read_text()
    assert "ExecStart=/opt/venv/bin/job scheduled_noop --max-runtime 3600\n" in service
    assert "Type=oneshot\n" in service
    assert "Environment=DJANGO_SETTINGS_MODULE=tests.settings\n" in service
    assert f"WorkingDirectory={ROOT}\n" in service


def test_a_rendered_crontab_line_runs_as_written_from_its_project_dir(tmp_path):
    """The line after its five schedule fields, through sh -c from elsewhere: the job starts
    in the project's directory, however odd its name."""
    project = tmp_path / "my project's $HOME; `x`"
    project.mkdir()
    fake_job = tmp_path / "job"  # says where it runs and with what
    fake_job.write_text('#!/bin/sh\necho "$(pwd)|$*"\n')
    fake_job.chmod(0o755)
    result = jobctl(
        "render",
        "crontab",
        "--job-bin",
        str(fake_job),
        "--log-dir",
        str(tmp_path),
        "--project-dir",
        str(project),
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "scheduled_noop" in x and "cd " in x)
    command = line.split(None, 5)[5]
    subprocess.run(["sh", "-c", command], cwd="/", check=True)
    logged = (tmp_path / "scheduled_noop.log").read_text()
    assert logged == f"{project}|scheduled_noop --max-runtime 3600\n"


def test_workdir_is_still_accepted_for_the_project_dir(tmp_path):
    """0.2's --workdir, now a second name of --project-dir."""
    result = jobctl("render", "crontab", "--workdir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert f" cd {tmp_path} && " in result.output


def test_systemd_doubles_a_percent_in_the_project_dir(tmp_path):
    project = tmp_path / "100%"
    project.mkdir()
    result = jobctl("render", "systemd", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    assert f"WorkingDirectory={tmp_path}/100%%\n" in result.output


@pytest.mark.parametrize(
    ("kind", "name", "message"),
    [
        ("crontab", "50%", "which cron turns into a newline"),
        ("systemd", "back\\slash", "which a unit file cannot carry"),
        ("systemd", "trailing ", "which a unit file cannot carry"),
        ("crontab", "line\nbreak", "--project-dir: must not contain control characters"),
        ("systemd", "bell\a", "--project-dir: must not contain control characters"),
    ],
)
def test_a_project_dir_the_file_cannot_carry_is_refused(tmp_path, kind, name, message):
    project = tmp_path / name
    project.mkdir()
    result = jobctl("render", kind, "--project-dir", str(project))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output and "WorkingDirectory" not in result.output


def test_the_project_dir_must_be_absolute_and_may_be_another_machines():
    for kind in ("crontab", "systemd"):
        result = jobctl("render", kind, "--project-dir", "relative/dir")
        assert result.exit_code == 2, result.output
        assert "must be an absolute path" in result.output
        # Rendered here, installed on the host that has the project: not checked for here.
        result = jobctl("render", kind, "--project-dir", "/srv/elsewhere")
        assert result.exit_code == 0, result.output
        assert "/srv/elsewhere" in result.output


def test_every_path_word_of_a_crontab_line_is_encoded():
    """cron turns a `%` into a newline wherever it stands: the job's binary and the log
    directory are refused with one too, not only the project directory."""
    for option, value in (("--job-bin", "/opt/50%/job"), ("--log-dir", "/var/log/50%")):
        result = jobctl("render", "crontab", option, value)
        assert result.exit_code == 2, result.output
        assert "which cron turns into a newline" in result.output


def test_systemd_doubles_a_percent_in_every_path():
    result = jobctl("render", "systemd", "--job-bin", "/opt/50%/job", "--env-file", "/etc/50%.env")
    assert result.exit_code == 0, result.output
    assert "ExecStart=/opt/50%%/job " in result.output
    assert "EnvironmentFile=/etc/50%%.env\n" in result.output


@pytest.mark.parametrize(
    ("cron", "calendar"),
    [
        ("*/15 * * * *", "*-*-* *:0/15:00"),
        ("0 3 * * 1-5", "Mon..Fri *-*-* 3:0:00"),
        ("30 2 1,15 * *", "*-*-1,15 2:30:00"),
        ("@daily", "*-*-* 0:0:00"),
        ("0 0 1 */3 *", "*-0/3-1 0:0:00"),
    ],
)
def test_cron_to_systemd_calendar(cron, calendar):
    assert on_calendar(cron) == calendar


@pytest.mark.parametrize("cron", ["0 0 1 * 1", "0 0 * * 1-5/2", "0 0 * JAN *"])
def test_cron_that_systemd_cannot_say_is_refused(cron):
    with pytest.raises(Unsupported):
        on_calendar(cron)


def test_an_invalid_schedule_is_rejected_when_the_job_is_loaded():
    with pytest.raises(ImproperlyConfigured, match=r"job broken_job: schedule '61 \* \* \* \*'"):
        type(
            "Command",
            (JobCommand,),
            {
                "__module__": "x.commands.broken_job",
                "Job": type("Job", (), {"schedule": "61 * * * *"}),
            },
        )
    with pytest.raises(ImproperlyConfigured, match="not an IANA time zone"):
        type(
            "Command",
            (JobCommand,),
            {
                "__module__": "x.broken",
                "Job": type("Job", (), {"schedule": "@daily", "schedule_timezone": "Mars/Base"}),
            },
        )


@pytest.mark.django_db
def test_history_lists_recent_runs():
    JobRun.objects.create(
        job="scheduled_noop",
        status="succeeded",
        exit_code=0,
        counters={"n": 2},
        host="pod-a",
        arguments={"dry_run": True, "exit": 0, "no_lock": False, "max_runtime": None},
        dry_run=True,
    )
    JobRun.objects.create(job="crash", status="failed", exit_code=75, host="pod-b")
    result = jobctl("history")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "ID",
        "JOB",
        "STATUS",
        "EXIT",
        "STARTED",
        "DURATION",
        "HOST",
        "PROGRESS",
        "ARGUMENTS",
        "COUNTERS",
    ]
    assert lines[1].split()[1:4] == ["crash", "failed", "75"]
    assert lines[2].split()[1:5] == ["scheduled_noop", "succeeded", "(dry", "run)"]
    assert " pod-a " in lines[2] and " pod-b " in lines[1]
    assert " exit=0 " in lines[2]  # the arguments given; unset flags are left out
    assert "no_lock" not in lines[2] and "max_runtime" not in lines[2]
    assert lines[2].endswith("n=2")
    JobRun.objects.create(
        job="upper_items",
        progress={"done": 450, "total": 1000, "estimated": True, "rate": 120.0, "eta_s": 4.6},
    )
    live = jobctl("history", "upper_items").output.splitlines()[1]
    assert " running " in live and " 450/~1000 rows 45% 120/s ETA 4.6s " in live
    only = jobctl("history", "scheduled_noop", "--limit", "5").output.splitlines()
    assert len(only) == 2
    assert jobctl("history", "prune_job_runs").output == "no runs recorded for prune_job_runs\n"
    assert jobctl("history", "nope").exit_code == 64


def test_version():
    result = jobctl("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"jobctl, version \S+\n", result.output)


def commands(group, path=("jobctl",)):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def test_every_command_has_help_and_is_in_the_reference():
    reference = (ROOT / "docs" / "reference" / "jobctl.md").read_text()
    for path, command in commands(cli):
        assert command.help and command.help.strip().endswith("."), path
        assert " ".join(path) in reference, f"{' '.join(path)} is not in docs/reference/jobctl.md"


@pytest.mark.django_db
def test_describe_shows_a_pending_checkpoint():
    from batch_jobs.models import JobCheckpoint

    assert (
        "checkpoint: none (the next run starts from the top)\n"
        in jobctl("describe", "upper_items").output
    )
    JobCheckpoint.objects.create(
        job="upper_items", arguments_hash="x", last_key=300, counters={"checked": 300}
    )
    output = jobctl("describe", "upper_items").output
    assert "checkpoint: after key 300, saved " in output
    assert "the walk so far: checked=300 (the next run with the same arguments resumes" in output
    assert "checkpoint" not in jobctl("describe", "scheduled_noop").output  # no batches


@pytest.fixture
def unmigrated_database():
    """A URL of an empty database on the test server (no testcontainers: lanes run this)."""
    from django.db import connection

    db = connection.settings_dict
    server = f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}"
    name = f"{db['NAME']}_unmigrated"  # the lanes share the server: one each
    with open_session(connection) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}".replace("postgresql://", "postgres://")
    with open_session(connection) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgresql
@pytest.mark.django_db
def test_history_without_the_tables_exits_78_with_one_line(unmigrated_database):
    env = {**os.environ, "DATABASE_URL": unmigrated_database}
    jobctl_bin = Path(sys.executable).with_name("jobctl")
    result = subprocess.run([jobctl_bin, "history"], capture_output=True, text=True, env=env)
    assert result.returncode == 78
    assert result.stderr.startswith("Error: cannot read the run records: database error: ")
    assert result.stderr.rstrip().endswith("`python manage.py migrate` (or `job migrate`)")
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("kind", ["deployment", "cronjob"])
def test_render_the_worker_with_the_longest_grace_period_of_its_jobs(kind):
    result = jobctl(
        "render", "kubernetes", "--image", "jobs:1", "--namespace", "ops", "--worker", kind
    )
    assert result.exit_code == 0, result.output
    (manifest,) = documents(result.output)
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    assert manifest["metadata"]["name"] == "django-jobs-worker"
    pod = (
        manifest["spec"]["template"]
        if kind == "deployment"
        else manifest["spec"]["jobTemplate"]["spec"]["template"]
    )
    longest = max(job.command._batch_job.stop_grace_seconds for job in catalog.jobs())
    assert pod["spec"]["terminationGracePeriodSeconds"] == longest + 15
    (container,) = pod["spec"]["containers"]
    drain = ["--drain"] if kind == "cronjob" else []
    assert container["args"] == ["jobctl", "worker", *drain]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert manifest["kind"] == {"deployment": "Deployment", "cronjob": "CronJob"}[kind]


def test_render_the_worker_alone():
    result = jobctl(
        "render", "kubernetes", "--image", "jobs:1", "--worker", "deployment", "--job", "crash"
    )
    assert result.exit_code == 2 and "--worker renders the worker alone" in result.output
