"""The framework's in-process tests on every driver, each in a Python 3.13 container.

The host lane runs them on PostgreSQL through psycopg 3. Here, side by side: PostgreSQL through
psycopg 2 (psycopg 3 uninstalled, so Django picks psycopg 2, as in a project that never moved),
and SQLite with no PostgreSQL driver installed at all, which proves that nothing imports one;
there the tests marked ``postgresql`` are skipped, with that reason.
"""

import re
import time

import pytest

from tests.lanes.test_django_versions import build_lane, lane_script
from tests.support.docker import ROOT, client, create_database

pytestmark = pytest.mark.image

#: Which driver Django's PostgreSQL backend would use, or that none can be imported.
WHICH_DRIVER = (
    "python -c 'import importlib.util as u; "
    'found = [m for m in ("psycopg", "psycopg2") if u.find_spec(m)]; '
    'print("drivers:", *found or ["none"])\''
)

LANES = {
    # lane: (packages uninstalled, TEST_DATABASE_URL or None for the session's PostgreSQL)
    "psycopg2": ("psycopg psycopg-binary", None),
    "sqlite": ("psycopg psycopg-binary psycopg2-binary", "sqlite:////tmp/lane.sqlite3"),
}


def test_framework_tests_pass_on_every_driver(tmp_path, postgres, docker_network, summary):
    started = time.monotonic()
    containers = {}
    try:
        for lane, (without, url) in LANES.items():
            folder = tmp_path / lane
            folder.mkdir()
            image = build_lane("", folder, tag=lane, without=without)
            if url is None:
                url, _ = create_database(postgres, f"lane_{lane}")
            containers[lane] = client().containers.run(
                image.id,
                ["sh", "-c", lane_script(WHICH_DRIVER)],
                detach=True,
                environment={"TEST_DATABASE_URL": url},
                volumes={str(ROOT): {"bind": "/src", "mode": "ro"}},
                network=docker_network.name,
            )
        results = {}
        for lane, container in containers.items():
            status = container.wait(timeout=900)
            results[lane] = (status["StatusCode"], container.logs().decode())
    finally:
        for container in containers.values():
            container.remove(force=True)
    elapsed = time.monotonic() - started
    for lane, (_, output) in results.items():
        last = output.strip().splitlines()[-1]
        summary.append(f"{lane} lane: {last}, {elapsed:.0f}s in all (lanes side by side)")
    psycopg2_status, psycopg2_output = results["psycopg2"]
    assert psycopg2_status == 0, psycopg2_output[-5000:]
    assert "drivers: psycopg2\n" in psycopg2_output
    sqlite_status, sqlite_output = results["sqlite"]
    assert sqlite_status == 0, sqlite_output[-5000:]
    assert "drivers: none\n" in sqlite_output
    for _, output in results.values():
        assert re.search(r"^\d+ passed", output.strip().splitlines()[-1]), output[-2000:]
    # Only what needs a server is skipped on SQLite; on psycopg 2, only what needs MariaDB.
    assert " skipped" in sqlite_output.strip().splitlines()[-1]
    skips = [line for line in psycopg2_output.splitlines() if line.startswith("SKIPPED")]
    assert all("needs MariaDB" in line for line in skips), skips
