"""The lanes side by side: every lane this session selects is built and run at once, on first
use, each in a thread of its own (a lane is an image build, then one container running the
framework's in-process tests); a lane's test waits for its own result.

Run one after the other, the five lanes took eleven of ``make test``'s minutes, most of it one
core busy and the other waiting; side by side they share the machine. At most
``LANES_AT_ONCE`` run together, the longest first, so that the timing-sensitive tests inside
them never run on a machine busier than the host suite's own tests are."""

import concurrent.futures
import contextlib
import dataclasses
import shutil
import time

import pytest

from tests.support import mariadb
from tests.support.docker import ROOT, client, create_database

#: What each lane runs: its tests, and the cases its assertions expect.
LANE_TESTS = ["tests/framework", "tests/ctl", "tests/console/test_console.py"]
#: Lanes running together; the others wait for a place.
LANES_AT_ONCE = 3

#: Which driver Django's PostgreSQL backend would use, or that none can be imported.
WHICH_DRIVER = (
    "python -c 'import importlib.util as u; "
    'found = [m for m in ("psycopg", "psycopg2") if u.find_spec(m)]; '
    'print("drivers:", *found or ["none"])\''
)
DJANGO_VERSION = "python -c 'import django; print(\"django\", django.__version__)'"
MYSQLCLIENT = "python -c 'import MySQLdb; print(\"mysqlclient\", MySQLdb.version_info)'"


@dataclasses.dataclass(frozen=True)
class Lane:
    """A lane: Django pinned (``""``: the lock's), packages uninstalled, mysqlclient or not,
    its database (``"postgres"``: one of the session's server, ``"mariadb"``: a server and a
    replica of its own, else a ``TEST_DATABASE_URL``), and the checks it prints first."""

    django: str = ""
    without: str = ""
    mysql: bool = False
    database: str = "postgres"
    check: str = ""
    tests: tuple = tuple(LANE_TESTS)


#: Longest first: they start in this order.
LANES = {
    "6.0": Lane(django="6.0", check=DJANGO_VERSION),
    "6.1": Lane(django="6.1", check=DJANGO_VERSION),
    # A driver: the framework's own tests (jobctl and the console sit on the same ORM calls).
    "psycopg2": Lane(
        without="psycopg psycopg-binary", check=WHICH_DRIVER, tests=("tests/framework",)
    ),
    "mariadb": Lane(mysql=True, database="mariadb", check=MYSQLCLIENT),
    "sqlite": Lane(
        without="psycopg psycopg-binary psycopg2-binary",
        database="sqlite:////tmp/lane.sqlite3",
        check=WHICH_DRIVER,
    ),
}


@dataclasses.dataclass
class Result:
    status: int
    output: str
    seconds: float

    @property
    def last_line(self):
        lines = self.output.strip().splitlines()
        return lines[-1] if lines else ""


def build_lane(django, folder, tag=None, without="", mysql=False):
    """The lane image: dependencies only, in a build context of its own (``django`` "": the
    lock's Django; ``without``: packages to uninstall; ``mysql``: with mysqlclient)."""
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, folder / name)
    shutil.copy(ROOT / "tests" / "lanes" / "Dockerfile", folder / "Dockerfile")
    image, _ = client().images.build(
        path=str(folder),
        tag=f"django-jobs-lane:{tag or django}",
        buildargs={"DJANGO": django, "WITHOUT": without, "MYSQL": "1" if mysql else ""},
        rm=True,
        forcerm=True,
    )
    return image


def lane_script(*checks, tests=LANE_TESTS):
    """The lane's shell command: the source copied out of the read-only mount (without the
    host's virtualenv), so that the lane can install it (for the `job` script the tests run)
    and write its caches; ``checks`` (commands) run first; then the lane's ``tests``."""
    return " && ".join(
        [
            "mkdir /tmp/src && cd /src",
            "cp -r pyproject.toml README.md docs manage.py app jobs tests /tmp/src && cd /tmp/src",
            "uv pip install --quiet --python /opt/venv/bin/python --no-deps -e .",
            *checks,
            f"pytest -q -p no:cacheprovider {' '.join(tests)}",
        ]
    )


def run_lane(image, script, environment, network):
    """Run ``script`` in a container of the lane ``image`` with the source mounted, on
    ``network``: its exit status and output."""
    container = client().containers.run(
        image.id,
        ["sh", "-c", script],
        detach=True,
        environment=environment,
        volumes={str(ROOT): {"bind": "/src", "mode": "ro"}},
        network=network.name,
    )
    try:
        status = container.wait(timeout=900)
        return status["StatusCode"], container.logs().decode()
    finally:
        container.remove(force=True)


class Lanes:
    """The selected lanes, started together on first use; ``result(name)`` waits for one."""

    def __init__(self, names, folder, postgres, network):
        self.folder, self.postgres, self.network = folder, postgres, network
        self.pool = concurrent.futures.ThreadPoolExecutor(LANES_AT_ONCE, "lane")
        self.started = time.monotonic()
        self.futures = {name: self.pool.submit(self.run, name) for name in LANES if name in names}

    def run(self, name):
        lane = LANES[name]
        folder = self.folder / name
        folder.mkdir()
        started = time.monotonic()
        image = build_lane(lane.django, folder, tag=name, without=lane.without, mysql=lane.mysql)
        with contextlib.ExitStack() as stack:
            if lane.database == "postgres":
                environment = {"TEST_DATABASE_URL": self.database(f"lane_{name}")}
            elif lane.database == "mariadb":
                # Aliases of their own: the reliability tests' servers may run meanwhile.
                _, _, inside = stack.enter_context(mariadb.server(self.network, alias="lane-db"))
                _, _, replica = stack.enter_context(
                    mariadb.replica_of("lane-db", self.network, alias="lane-replica")
                )
                environment = {"TEST_DATABASE_URL": inside, "TEST_REPLICA_URL": replica}
            else:
                environment = {"TEST_DATABASE_URL": lane.database}
            script = lane_script(lane.check, tests=lane.tests)
            status, output = run_lane(image, script, environment, self.network)
        return Result(status, output, time.monotonic() - started)

    def database(self, name):
        return create_database(self.postgres, name.replace(".", "_"))[0]

    def result(self, name):
        return self.futures[name].result()

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def lanes(request, tmp_path_factory, docker_network):
    """Every lane this session's tests ask for (their ``lane`` parameter), side by side."""
    names = {
        item.callspec.params["lane"]
        for item in request.session.items
        if "lanes" in getattr(item, "fixturenames", ())
        and hasattr(item, "callspec")
        and not any(marker.args and marker.args[0] for marker in item.iter_markers("skipif"))
    }
    postgres = request.getfixturevalue("postgres")
    runner = Lanes(names, tmp_path_factory.mktemp("lanes"), postgres, docker_network)
    yield runner
    runner.close()


@pytest.fixture
def lane_result(lane, lanes, summary):
    """This test's lane, run (waiting for it), with its line in the session's summary."""
    result = lanes.result(lane)
    summary.append(
        f"{lane} lane: {result.last_line}, {result.seconds:.0f}s in all "
        f"(lanes side by side, {time.monotonic() - lanes.started:.0f}s since they started)"
    )
    return result
