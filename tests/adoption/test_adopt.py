"""A brand-new Django project adopts the framework from its wheel, following the README.

For Django 5.2 and 6.1: ``django-admin startproject`` and ``startapp`` make a project with an
app of its own; the README's "Add it to your project" steps are applied as written (the job is
the README's code block); the README's "Containerize your project" Dockerfile builds the
project's image, with the wheel installed in its virtualenv; and real processes run against
PostgreSQL: the listing, a dry run, exit 65, a second concurrent run (75), SIGTERM (143), the
run records and ``jobctl render kubernetes``.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.support.docker import ROOT, client, create_database, finish

pytestmark = pytest.mark.image

README = (ROOT / "README.md").read_text()
BASE_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.13-slim-trixie")


def section(title):
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text, language):
    blocks = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, flags=re.M | re.S)
    return [re.sub(rf"^{indent}", "", body, flags=re.M) for indent, body in blocks]


ADOPT = section("Add it to your project")
JOB_SOURCE = next(b for b in code_blocks(ADOPT, "python") if "class Command(JobCommand)" in b)
JOB_NAME = re.search(r"This\s+one is `(\w+)`", ADOPT).group(1)
DOCKERFILE = code_blocks(section("Containerize your project"), "dockerfile")[0]

# The project's own database settings, before adoption: PostgreSQL from libpq's variables.
POSTGRES_SETTINGS = """
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["PGDATABASE"],
        "USER": os.environ["PGUSER"],
        "PASSWORD": os.environ["PGPASSWORD"],
        "HOST": os.environ["PGHOST"],
        "PORT": os.environ.get("PGPORT", "5432"),
    }
}
"""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", out, ROOT], check=True, capture_output=True
    )
    (built,) = out.glob("django_batch_jobs-*.whl")
    return built


def start_project(folder, django):
    """``startproject mysite`` and ``startapp reports``, with that Django, as this user."""
    folder.mkdir()
    script = (
        "python -m venv /tmp/venv && /tmp/venv/bin/pip install --quiet 'django=="
        f"{django}.*' && cd /work && /tmp/venv/bin/django-admin startproject mysite . "
        "&& /tmp/venv/bin/python manage.py startapp reports"
    )
    logs = client().containers.run(
        BASE_IMAGE,
        ["sh", "-c", script],
        user=f"{os.getuid()}:{os.getgid()}",
        environment={"HOME": "/tmp", "PIP_NO_CACHE_DIR": "1"},
        volumes={str(folder): {"bind": "/work", "mode": "rw"}},
        remove=True,
    )
    assert (folder / "mysite" / "settings.py").exists(), logs


def adopt(project, wheel, django):
    """The project's own setup, then the README's steps 1 to 3 as written."""
    settings = project / "mysite" / "settings.py"
    text = settings.read_text()
    text = re.sub(r"(INSTALLED_APPS = \[\n)", r'\1    "reports",\n', text)  # its own app
    text = "import os\n" + text + POSTGRES_SETTINGS
    # Step 1: install (the wheel stands for the distribution name), in requirements.txt.
    (project / "wheels").mkdir()
    (project / "wheels" / wheel.name).write_bytes(wheel.read_bytes())
    (project / "requirements.txt").write_text(
        f"django=={django}.*\n./wheels/{wheel.name}[binary]\n"
    )
    # Step 2: "batch_jobs" in INSTALLED_APPS (the migration runs in the container below).
    text = re.sub(r"(INSTALLED_APPS = \[\n(?:.*\n)*?)\]", r'\1    "batch_jobs",\n]', text, count=1)
    settings.write_text(text)
    # Step 3: the README's job, in the app's management/commands.
    commands = project / "reports" / "management" / "commands"
    commands.mkdir(parents=True)
    (commands.parent / "__init__.py").write_text("")
    (commands / "__init__.py").write_text("")
    (commands / f"{JOB_NAME}.py").write_text(JOB_SOURCE)
    (project / "Dockerfile").write_text(DOCKERFILE)


class Project:
    """The adopted project's image, run on the test network against its own database."""

    def __init__(self, image, network, database):
        self.image, self.network, self.database = image, network, database

    def start(self, *command):
        return client().containers.run(
            self.image,
            list(command),
            detach=True,
            network=self.network,
            environment={
                "PGHOST": "db",
                "PGUSER": self.database["user"],
                "PGPASSWORD": self.database["password"],
                "PGDATABASE": self.database["dbname"],
                "JOB_LOG_FORMAT": "json",
            },
            read_only=True,
            tmpfs={"/tmp": "rw,size=16m"},
            cap_drop=["ALL"],
        )

    def run(self, *command):
        return finish(self.start(*command))


def wait_for_start(container, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if '"event": "start"' in container.logs(stdout=False, stderr=True).decode():
            return
        time.sleep(0.1)
    raise AssertionError(container.logs().decode())


@pytest.mark.parametrize("django", ["5.2", "6.1"])
def test_a_new_project_adopts_the_framework(django, wheel, tmp_path, postgres, docker_network):
    project = tmp_path / "mysite"
    start_project(project, django)
    adopt(project, wheel, django)
    image, _ = client().images.build(
        path=str(project), tag=f"mysite-jobs:django-{django}", rm=True, forcerm=True
    )
    name = f"adopt_{django.replace('.', '_')}"
    _, outside = create_database(postgres, name)
    site = Project(
        image.id,
        docker_network.name,
        {"user": postgres.username, "password": postgres.password, "dbname": name},
    )

    # Step 2's migrate, then step 4: the listing has the project's job and none of ours.
    migrated = site.run("python", "/srv/manage.py", "migrate", "--noinput")
    assert migrated.exit_code == 0, migrated.stderr
    listed = site.run("job", "--list")
    assert listed.exit_code == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()}
    assert JOB_NAME in names and "prune_job_runs" in names
    assert not names & {"cleanup_tokens", "normalize_emails", "seed_demo_data", "nightly"}

    with psycopg.connect(outside, autocommit=True) as db:
        db.execute(
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "SELECT 'expired-' || i, 'x', now() - interval '1 day' FROM generate_series(1, 30) i"
        )
        dry = site.run("job", JOB_NAME, "--dry-run")
        assert (dry.exit_code, dry.stdout) == (0, "{'candidates': 30}\n"), dry.stderr

        refused = site.run("job", JOB_NAME, "--limit", "5")
        assert refused.exit_code == 65, refused.stderr
        assert refused.stderr.splitlines()[-1] == (
            "CommandError: 30 expired sessions, more than --limit 5"
        )

        # A run that holds the lock (its first query waits on a table lock), and a second.
        db.execute("BEGIN")
        db.execute("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE")
        first = site.start("job", JOB_NAME)
        wait_for_start(first)
        second = site.run("job", JOB_NAME)
        assert second.exit_code == 75, second.stderr
        assert f"already running: {JOB_NAME} is held by run" in second.stderr
        first.kill(signal="SIGTERM")  # as `docker stop` and Kubernetes do
        time.sleep(1)
        db.execute("ROLLBACK")  # the query answers; the job stops at its batch boundary
        stopped = finish(first)
        assert stopped.exit_code == 143, stopped.stderr
        assert db.execute("SELECT count(*) FROM django_session").fetchone()[0] == 30

        done = site.run("job", JOB_NAME)
        assert (done.exit_code, done.stdout) == (0, "{'deleted': 30}\n"), done.stderr
        records = db.execute(
            "SELECT status, exit_code, counters FROM batch_jobs_run ORDER BY id"
        ).fetchall()
    assert records == [  # in the order they started
        ("succeeded", 0, {"candidates": 30}),
        ("failed", 65, {}),
        ("interrupted", 143, {}),
        ("blocked", 75, {}),
        ("succeeded", 0, {"deleted": 30}),
    ]
    finish_event = json.loads(done.stderr.splitlines()[-1])
    assert (finish_event["event"], finish_event["job"]) == ("finish", JOB_NAME)

    # Step 5: the schedule, rendered for Kubernetes with the project's name.
    rendered = site.run("jobctl", "render", "kubernetes", "--image", "registry.example/mysite:1")
    assert rendered.exit_code == 0, rendered.stderr
    cronjobs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(rendered.stdout) if d}
    assert cronjobs.keys() == {JOB_NAME.replace("_", "-"), "prune-job-runs"}  # and the framework's
    cronjob = cronjobs[JOB_NAME.replace("_", "-")]
    assert cronjob["spec"]["schedule"] == "15 3 * * *"
    assert cronjob["metadata"]["labels"]["app.kubernetes.io/name"] == "mysite"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
