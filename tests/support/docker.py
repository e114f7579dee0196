"""Running the project image as a black box: build it once, run it like a user would."""

import dataclasses
import os
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[2]
TEST_IMAGE = os.environ.get("JOB_TEST_IMAGE", "django-jobs:test")
# The test jobs live in tests/testjobs and are mounted read-only into the containers.
TEST_JOBS_ENV = {"PYTHONPATH": "/srv:/opt/testpkgs", "DJANGO_EXTRA_APPS": "tests.testjobs"}
TEST_JOBS_VOLUME = {str(ROOT / "tests"): {"bind": "/opt/testpkgs/tests", "mode": "ro"}}


@dataclasses.dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]


def client():
    return docker.from_env()


def build_image(tag=TEST_IMAGE):
    image, _ = client().images.build(path=str(ROOT), tag=tag, rm=True, forcerm=True)
    return image


def create_database(postgres, name):
    """A fresh database ``name`` on the test server; returns URLs for containers and host."""
    import psycopg  # here: the lanes without psycopg 3 import this module, never call this

    host, port = postgres.get_container_host_ip(), postgres.get_exposed_port(5432)
    admin = f"postgresql://{postgres.username}:{postgres.password}@{host}:{port}/{postgres.dbname}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    inside = f"postgres://{postgres.username}:{postgres.password}@db:5432/{name}"
    outside = f"postgresql://{postgres.username}:{postgres.password}@{host}:{port}/{name}"
    return inside, outside


class JobImage:
    """Runs the image on the test network with the hardening a real deployment uses."""

    def __init__(self, image, network, database_url):
        self.image = image
        self.network = network
        self.database_url = database_url

    def container_kwargs(self, env=None, test_jobs=True, network=None, **kwargs):
        environment = {"DATABASE_URL": self.database_url, "JOB_LOG_FORMAT": "json"}
        volumes = {}
        if test_jobs:
            environment.update(TEST_JOBS_ENV)
            volumes.update(TEST_JOBS_VOLUME)
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return {
            "image": self.image,
            "environment": environment,
            "volumes": volumes,
            "network": network or self.network,
            "read_only": True,
            "tmpfs": {"/tmp": "rw,size=16m"},
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            **kwargs,
        }

    def start(self, *command, **kwargs):
        return client().containers.run(
            command=list(command), detach=True, **self.container_kwargs(**kwargs)
        )

    def run(self, *command, timeout=120, **kwargs):
        """Run to completion; the container is removed afterwards."""
        container = self.start(*command, **kwargs)
        return finish(container, timeout)


def finish(container, timeout=120):
    try:
        status = container.wait(timeout=timeout)
        return Result(
            exit_code=status["StatusCode"],
            stdout=container.logs(stdout=True, stderr=False).decode(),
            stderr=container.logs(stdout=False, stderr=True).decode(),
        )
    finally:
        container.remove(force=True)
