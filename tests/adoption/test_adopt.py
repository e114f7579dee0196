"""A brand-new Django project adopts the framework from its wheel, following the docs.

Each cell of the matrix starts a plain ``python:3.13`` container with a virtualenv, makes a
project with ``django-admin startproject mysite`` and ``startapp``, and follows
docs/how-to/adopt.md literally from the project's directory: its install line for its
database (the wheel standing for the distribution; on MariaDB after the system packages
mysqlclient builds with), its ``INSTALLED_APPS`` and ``migrate``,
its job and its test (docs/how-to/testing.md), ``job --list`` and the dry run, and a line of
``jobctl render crontab`` run as written by ``sh -c`` from another directory. Then
docs/tutorial/deploy.md (its Dockerfile, the two-stage one on MariaDB, ``.dockerignore``
and ``DATABASE_URL`` settings) builds the project's image, and the same runs go through it.
Both ways check exit 65 from the job's ``CommandError`` with one line, a second concurrent
run exiting 75 while the first holds the lock (two processes), and the run records.

The code blocks are taken from those pages, so the docs and this test cannot drift.
"""

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import mariadb
from tests.support.docker import ROOT, Result, client, create_database, finish
from tests.support.reliability import FULL

pytestmark = pytest.mark.image

DOCS = ROOT / "docs"
BASE_IMAGE = os.environ.get("PYTHON_IMAGE", "python:3.13")
HERE = Path(__file__).resolve().parent
PROJECT_DIR = "/work/mysite"
SETTINGS = {"DJANGO_SETTINGS_MODULE": "mysite.settings"}


def page(path):
    """The text of a page of the docs."""
    return (DOCS / path).read_text()


def code_blocks(text, language):
    blocks = re.findall(rf"^( *)```{language}\n(.*?)^\1```", text, flags=re.M | re.S)
    return [re.sub(rf"^{indent}", "", body, flags=re.M) for indent, body in blocks]


ADOPT = page("how-to/adopt.md")
INSTALL, SYSTEM_PACKAGES, MIGRATE, PACKAGES, RUN, RENDER = code_blocks(ADOPT, "sh")
(APPS, JOB_SOURCE) = code_blocks(ADOPT, "python")
JOB_NAME = re.search(r"This one is `(\w+)`", ADOPT).group(1)
JOB_PATH = re.search(r"in `(\w+/management/commands/\w+\.py)`", ADOPT).group(1)
DOCS_APP = JOB_PATH.split("/")[0]
TESTING = page("how-to/testing.md")
(TEST_SOURCE,) = code_blocks(TESTING, "python")
TEST_PATH = re.search(r"tested in `(\w+/tests\.py)`", TESTING).group(1)
(RUN_TESTS,) = code_blocks(TESTING, "sh")
CONTAINER = page("tutorial/deploy.md")
DOCKERFILE, MARIADB_DOCKERFILE = code_blocks(CONTAINER, "dockerfile")
(DOCKERIGNORE,) = code_blocks(CONTAINER, "dockerignore")
(DATABASE_SETTINGS,) = code_blocks(CONTAINER, "python")

# The project's own database settings before adoption, on PostgreSQL: libpq's variables.
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

# The same on MariaDB, as a project on mysqlclient has them (Django's MySQL notes: utf8mb4).
MARIADB_SETTINGS = """
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": os.environ["MYSQL_DATABASE"],
        "USER": os.environ["MYSQL_USER"],
        "PASSWORD": os.environ["MYSQL_PASSWORD"],
        "HOST": os.environ["MYSQL_HOST"],
        "PORT": "3306",
        "OPTIONS": {"charset": "utf8mb4"},
    }
}
"""


@dataclasses.dataclass
class Cell:
    django: str
    database: str  # "sqlite", "postgresql" or "mariadb"
    install: str  # what the docs' install line for it says in its comment
    app: str  # the project's app that gets the job

    def install_line(self, wheel):
        (line,) = [x for x in INSTALL.splitlines() if self.install in x.partition("#")[2]]
        return line.replace("django-batch-jobs", f"/wheels/{wheel.name}")

    def requirements(self, wheel):
        """requirements.txt for the image: the same install, Django and dj-database-url."""
        words = shlex.split(self.install_line(wheel), comments=True)[2:]
        words = [w.replace("/wheels/", "./wheels/") for w in words]
        return "\n".join([f"django=={self.django}.*", *words, "dj-database-url"]) + "\n"


CELLS = {
    "django6.1-sqlite-no-extra": Cell("6.1", "sqlite", "SQLite", DOCS_APP),
    "django5.2-postgresql-psycopg2": Cell("5.2", "postgresql", "psycopg 2", DOCS_APP),
    "django6.1-postgresql-psycopg3": Cell("6.1", "postgresql", "psycopg 3", DOCS_APP),
    "django6.1-mariadb-mysqlclient": Cell("6.1", "mariadb", "MariaDB or MySQL", DOCS_APP),
    "own-jobs-app": Cell("6.1", "postgresql", "psycopg 3", "jobs"),
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", out, ROOT], check=True, capture_output=True
    )
    (built,) = out.glob("django_batch_jobs-*.whl")
    return built


@pytest.fixture(scope="session")
def pip_cache(tmp_path_factory):
    """One pip cache for every cell's virtualenv: each package is downloaded once."""
    return tmp_path_factory.mktemp("pip-cache")


class Virtualenv:
    """A plain python:3.13 container: a virtualenv in /venv, the project under /work."""

    def __init__(self, work, wheel, pip_cache, network, env):
        self.env = env
        self.container = client().containers.run(
            BASE_IMAGE,
            ["sleep", "infinity"],
            detach=True,
            network=network,
            environment={"PIP_NO_INPUT": "1", **env},
            volumes={
                str(work): {"bind": "/work", "mode": "rw"},
                str(wheel.parent): {"bind": "/wheels", "mode": "ro"},
                str(HERE): {"bind": "/driver", "mode": "ro"},
                str(pip_cache): {"bind": "/root/.cache/pip", "mode": "rw"},
            },
        )

    def sh(self, script, workdir=PROJECT_DIR, env=None):
        """``script`` by ``sh -c`` with the virtualenv active, as a user's shell has it."""
        activate = "if [ -e /venv/bin/activate ]; then . /venv/bin/activate; fi"
        code, (out, err) = self.container.exec_run(
            ["sh", "-c", f"{activate}\nset -e\n{script}"],
            workdir=workdir,
            environment=env or {},
            demux=True,
        )
        return Result(code, (out or b"").decode(), (err or b"").decode())

    def ok(self, script, **kwargs):
        result = self.sh(script, **kwargs)
        assert result.exit_code == 0, (script, result.stdout, result.stderr)
        return result

    # What check_the_job_runs needs, from the project's directory with the settings exported.

    def job(self, *words):
        return self.sh(shlex.join(["job", *words]), env=SETTINGS)

    def driver(self, *args):
        words = ["python", "/driver/in_container.py", *args]
        return json.loads(self.ok(shlex.join(words), env=SETTINGS).stdout)

    def crontab(self):
        """Step 5 as written, then the job's line as cron runs it: ``sh -c``, from another
        directory, with only the crontab's environment (its top, where the docs put the
        database's too) and cron's sparse PATH."""
        line, crontab_env = crontab_job_line(self.ok(RENDER, env=SETTINGS).stdout)
        assert line.startswith(f"cd {PROJECT_DIR} && /venv/bin/job {JOB_NAME} ")
        self.ok("mkdir -p /var/log/mysite")  # the log directory, as step 5 says
        environment = {"PATH": "/usr/bin:/bin", **crontab_env, **self.env}
        return self.sh(
            f"cd / && env -i {env_words(environment)} sh -c {shlex.quote(line)} "
            f"|| exit $?; cat /var/log/mysite/{JOB_NAME}.log"
        )

    def close(self):
        self.container.remove(force=True)


class Image:
    """The project's image, built from the docs' Dockerfile, run as the docs run it."""

    def __init__(self, project, network, env, volumes):
        self.image, _ = client().images.build(path=str(project), rm=True, forcerm=True)
        self.network, self.env = network, env
        self.volumes = {str(HERE): {"bind": "/driver", "mode": "ro"}, **volumes}

    def run(self, *command):
        return finish(
            client().containers.run(
                self.image.id,
                list(command),
                detach=True,
                network=self.network,
                environment=self.env,
                volumes=self.volumes,
                read_only=True,
                tmpfs={"/tmp": "rw,size=16m"},
                cap_drop=["ALL"],
            )
        )

    def ok(self, *command):
        result = self.run(*command)
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        return result

    def job(self, *words):
        return self.run("job", *words)

    def driver(self, *args):
        return json.loads(self.ok("python", "/driver/in_container.py", *args).stdout)

    def crontab(self):
        """The job's crontab line rendered in the image, run as written from its /tmp."""
        rendered = self.ok("jobctl", "render", "crontab", "--log-dir", "/tmp")
        line, _ = crontab_job_line(rendered.stdout)
        assert line.startswith(f"cd /srv && /opt/venv/bin/job {JOB_NAME} ")
        return self.run("sh", "-c", f"{line} || exit $?; cat /tmp/{JOB_NAME}.log")

    def close(self):
        client().images.remove(self.image.id, force=True)


def env_words(environment):
    return " ".join(shlex.quote(f"{k}={v}") for k, v in environment.items())


def crontab_job_line(rendered):
    """The job's line of a rendered crontab after its five schedule fields, and the
    environment the crontab sets above it."""
    lines = rendered.splitlines()
    (line,) = [x for x in lines if f" {JOB_NAME} " in x and not x.startswith("#")]
    env = dict(x.split("=", 1) for x in lines if re.match(r"^[A-Z_]+=", x))
    return line.split(None, 5)[5], env


def human_lines(stderr):
    """The lines of stderr that are not JSON log events: what a person reads."""
    return [x for x in stderr.splitlines() if x.strip() and not x.startswith("{")]


def check_the_job_runs(where, earlier):
    """What each cell shows, in its virtualenv or through its image: 30 expired sessions, a
    dry run, 65 with one line, two runs at once (75 for the second, naming the first), a
    crontab line run as written, and the run records of it all."""
    assert where.driver("sessions", "30") == {"sessions": 30}

    dry = where.job(JOB_NAME, "--dry-run")
    assert (dry.exit_code, dry.stdout) == (0, "{'candidates': 30}\n"), dry.stderr

    refused = where.job(JOB_NAME, "--limit", "5")
    assert refused.exit_code == 65, refused.stderr
    assert human_lines(refused.stderr) == ["CommandError: 30 expired sessions, more than --limit 5"]

    both = where.driver("concurrent", JOB_NAME)
    first, second, holder = both["first"], both["second"], both["holder"]
    assert (first["exit_code"], first["stdout"]) == (0, "{'deleted': 30}\n"), first["stderr"]
    assert second["exit_code"] == 75, second["stderr"]
    (blocked,) = human_lines(second["stderr"])
    assert re.fullmatch(
        rf"CommandError: already running: {JOB_NAME} is held by run {holder['id']} started "
        rf"[-\d]+ [:\d]+ UTC on \S+ \(pid {holder['first_pid']}\)",
        blocked,
    ), blocked

    scheduled = where.crontab()
    assert scheduled.exit_code == 0, scheduled.stdout + scheduled.stderr
    # The job's own line, in its log: nothing left, and the job reports that it deleted 0.
    assert "{'deleted': 0}\n" in scheduled.stdout

    records = [
        (r["job"], r["status"], r["exit_code"], r["counters"], r["dry_run"])
        for r in where.driver("records")
    ]
    assert records == [  # in the order they started
        *earlier,
        (JOB_NAME, "succeeded", 0, {"candidates": 30}, True),
        (JOB_NAME, "failed", 65, {}, False),
        (JOB_NAME, "succeeded", 0, {"deleted": 30}, False),
        (JOB_NAME, "blocked", 75, {}, False),
        (JOB_NAME, "succeeded", 0, {"deleted": 0}, False),  # the crontab's line
    ]


@pytest.fixture(scope="module")
def maria(docker_network):
    """A MariaDB server (Debian's package) for the MariaDB cell, reached as ``adoptmaria``."""
    with mariadb.server(docker_network, alias="adoptmaria") as (container, *_):
        yield container


def create_mariadb_database(container, name):
    """A fresh database ``name`` on the MariaDB cell's server; its URL for containers."""
    mariadb.query(container, f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")
    return f"mysql://{mariadb.USER}:{mariadb.PASSWORD}@adoptmaria:3306/{name}"


#: Cells only `make reliability` runs (RELIABILITY=full), minutes that `make test` cannot
#: spare: MariaDB compiles mysqlclient twice (in the virtualenv and in the docs' Dockerfile);
#: psycopg 2 and a project's own `jobs` app repeat what the other cells and the lanes prove.
FULL_ONLY = {"django6.1-mariadb-mysqlclient", "django5.2-postgresql-psycopg2", "own-jobs-app"}


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param(
            cell,
            id=name,
            marks=pytest.mark.skipif(
                name in FULL_ONLY and not FULL, reason="make reliability runs this cell"
            ),
        )
        for name, cell in CELLS.items()
    ],
)
def test_a_new_project_adopts_the_framework(
    cell, wheel, pip_cache, tmp_path, postgres, docker_network, request
):
    work = tmp_path / "work"
    work.mkdir()
    project = work / "mysite"
    database = f"adopt_{re.sub(r'[^a-z0-9]', '_', cell.install.lower())}_{cell.app}"
    env = {}
    if cell.database == "mariadb":
        server = request.getfixturevalue("maria")
        create_mariadb_database(server, database)
        env = {
            "MYSQL_HOST": "adoptmaria",
            "MYSQL_USER": mariadb.USER,
            "MYSQL_PASSWORD": mariadb.PASSWORD,
            "MYSQL_DATABASE": database,
        }
    if cell.database == "postgresql":
        create_database(postgres, database)
        env = {
            "PGHOST": "db",
            "PGUSER": postgres.username,
            "PGPASSWORD": postgres.password,
            "PGDATABASE": database,
        }
    venv = Virtualenv(work, wheel, pip_cache, docker_network.name, env)
    try:
        adopt_in_a_virtualenv(cell, venv, project, wheel)
    finally:
        venv.close()

    containerize(cell, project, wheel)
    if cell.database == "postgresql":
        url = create_database(postgres, f"{database}_image")[0]
        volumes = {}
    elif cell.database == "mariadb":
        url, volumes = create_mariadb_database(server, f"{database}_image"), {}
    else:
        data = tmp_path / "data"  # the SQLite file and its folder, writable by uid 10001
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        url, volumes = "sqlite:////data/db.sqlite3", {str(data): {"bind": "/data", "mode": "rw"}}
    image = Image(project, docker_network.name, {"DATABASE_URL": url}, volumes)
    try:
        through_the_image(image)
    finally:
        image.close()


def adopt_in_a_virtualenv(cell, venv, project, wheel):
    # The project, before adoption: Django, startproject, an app of its own.
    venv.ok(
        f"python -m venv /venv && /venv/bin/pip install --quiet 'django=={cell.django}.*'",
        workdir="/",
    )
    venv.ok("django-admin startproject mysite", workdir="/work")
    venv.ok(f"python manage.py startapp {cell.app}")
    settings = project / "mysite" / "settings.py"
    if cell.database == "postgresql":
        settings.write_text("import os\n" + settings.read_text() + POSTGRES_SETTINGS)
    if cell.database == "mariadb":
        settings.write_text("import os\n" + settings.read_text() + MARIADB_SETTINGS)

    # Step 1: the system packages mysqlclient builds with (as root), then the docs' install
    # line for this database.
    if cell.database == "mariadb":
        venv.ok(SYSTEM_PACKAGES, workdir="/")
    venv.ok(cell.install_line(wheel))
    # Step 2 (with step 3's app): INSTALLED_APPS as the docs' block shows, then migrate.
    added = [x.strip() for x in APPS.splitlines() if x.strip().startswith('"')]
    assert added == ['"batch_jobs",']
    entries = f'    "{cell.app}",\n    "batch_jobs",\n]'
    text = re.sub(r"(INSTALLED_APPS = \[\n(?:.*\n)*?)\]", rf"\1{entries}", settings.read_text())
    settings.write_text(text)
    venv.ok(MIGRATE)
    # Step 3: the packages and the job, in the project's app.
    venv.ok(PACKAGES.replace(DOCS_APP, cell.app))
    (project / JOB_PATH.replace(DOCS_APP, cell.app, 1)).write_text(JOB_SOURCE)
    # docs/how-to/testing.md: the docs' test of that job passes.
    (project / TEST_PATH.replace(DOCS_APP, cell.app, 1)).write_text(TEST_SOURCE)
    tested = venv.ok(RUN_TESTS.replace(DOCS_APP, cell.app))
    assert "Ran 3 tests" in tested.stderr and "\nOK" in tested.stderr, tested.stderr

    # Step 4 as written: the listing and a dry run, from the project's directory.
    listed = venv.ok(RUN)
    *listing, dry_run = listed.stdout.splitlines()
    names = {line.split()[0] for line in listing}
    assert JOB_NAME in names and "prune_job_runs" in names
    assert dry_run == "{'candidates': 0}"

    check_the_job_runs(venv, earlier=[(JOB_NAME, "succeeded", 0, {"candidates": 0}, True)])


def containerize(cell, project, wheel):
    """docs/tutorial/deploy.md: requirements.txt, its Dockerfile and
    .dockerignore, its DATABASES from DATABASE_URL; and a local .env that must stay out."""
    (project / "wheels").mkdir()
    (project / "wheels" / wheel.name).write_bytes(wheel.read_bytes())
    (project / "requirements.txt").write_text(cell.requirements(wheel))
    (project / "Dockerfile").write_text(
        MARIADB_DOCKERFILE if cell.database == "mariadb" else DOCKERFILE
    )
    (project / ".dockerignore").write_text(DOCKERIGNORE)
    (project / ".env").write_text("SECRET_KEY=not-for-the-image\n")
    settings = project / "mysite" / "settings.py"
    blocks = r"^DATABASES = \{\n(?:.*\n)*?\}\n"
    text = re.sub(blocks, "", settings.read_text(), flags=re.M)
    settings.write_text(text + "\n" + DATABASE_SETTINGS)


def through_the_image(image):
    shipped = image.ok("ls", "-A", "/srv").stdout.split()
    assert "manage.py" in shipped
    assert not {"db.sqlite3", ".env", ".git", ".venv"} & set(shipped), shipped

    assert image.ok("job", "migrate", "--noinput")
    listed = image.ok("job", "--list")
    assert JOB_NAME in {line.split()[0] for line in listed.stdout.splitlines()}
    check_the_job_runs(image, earlier=[])

    rendered = image.ok("jobctl", "render", "kubernetes", "--image", "registry.example/mysite:1")
    cronjobs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(rendered.stdout) if d}
    cronjob = cronjobs[JOB_NAME.replace("_", "-")]
    assert cronjob["spec"]["schedule"] == "15 3 * * *"
    assert cronjob["metadata"]["labels"]["app.kubernetes.io/name"] == "mysite"
