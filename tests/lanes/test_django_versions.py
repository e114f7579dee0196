"""The framework's in-process tests on Django 6.0 and 6.1, each in a Python 3.13 container.

The host lane (Python 3.11, Django 5.2 from the lock file) runs the whole suite; these lanes
run ``tests/framework``, ``tests/ctl`` and the console's in-process tests against the
session's PostgreSQL, reached as ``db``.
"""

import re
import shutil
import time

import pytest

from tests.support.docker import ROOT, client, create_database

pytestmark = pytest.mark.image

LANE_TESTS = ["tests/framework", "tests/ctl", "tests/console/test_console.py"]


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


def lane_script(*checks):
    """The lane's shell command: the source copied out of the read-only mount (without the
    host's virtualenv), so that the lane can install it (for the `job` script the tests run)
    and write its caches; ``checks`` (commands) run first; then the lane's tests."""
    return " && ".join(
        [
            "mkdir /tmp/src && cd /src",
            "cp -r pyproject.toml README.md docs manage.py app jobs tests /tmp/src && cd /tmp/src",
            "uv pip install --quiet --python /opt/venv/bin/python --no-deps -e .",
            *checks,
            f"pytest -q -p no:cacheprovider {' '.join(LANE_TESTS)}",
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


@pytest.mark.parametrize("django", ["6.0", "6.1"])
def test_framework_tests_pass_on(django, tmp_path, postgres, docker_network, summary):
    started = time.monotonic()
    image = build_lane(django, tmp_path)
    name = f"lane_{django.replace('.', '_')}"
    inside, _ = create_database(postgres, name)
    script = lane_script("python -c 'import django; print(\"django\", django.__version__)'")
    status, output = run_lane(image, script, {"TEST_DATABASE_URL": inside}, docker_network)
    result = output.strip().splitlines()[-1]
    summary.append(f"Django {django} lane: {result}, {time.monotonic() - started:.0f}s in all")
    assert status == 0, output[-5000:]
    assert f"django {django}." in output
    assert re.search(r"^\d+ passed", output.strip().splitlines()[-1]), output[-2000:]
