"""The framework's in-process tests on MariaDB, in a Python 3.13 container with mysqlclient.

The host has no MySQL driver (mysqlclient builds from source), so this lane runs, as the
Django lanes do, ``tests/framework``, ``tests/ctl`` and the console's in-process tests in a
container of its own, against a MariaDB from Debian's package (``tests.support.mariadb``) on
the session's docker network, with a second MariaDB replicating it for the replica-lag tests
(``TEST_REPLICA_URL``). Tests marked ``postgresql`` are skipped there, those marked ``mysql``
run there only.
"""

import re
import time

import pytest

from tests.lanes.test_django_versions import build_lane, lane_script, run_lane
from tests.support import mariadb

pytestmark = pytest.mark.image


def test_framework_tests_pass_on_mariadb(tmp_path, docker_network, summary):
    started = time.monotonic()
    image = build_lane("", tmp_path, tag="mariadb", mysql=True)
    with (
        mariadb.server(docker_network) as (_, _, inside),
        mariadb.replica_of("mariadb", docker_network) as (_, _, replica),
    ):
        script = lane_script(
            "python -c 'import MySQLdb; print(\"mysqlclient\", MySQLdb.version_info)'"
        )
        environment = {"TEST_DATABASE_URL": inside, "TEST_REPLICA_URL": replica}
        status, output = run_lane(image, script, environment, docker_network)
    result = output.strip().splitlines()[-1]
    summary.append(f"MariaDB lane: {result}, {time.monotonic() - started:.0f}s in all")
    assert status == 0, output[-5000:]
    assert "mysqlclient " in output
    assert re.search(r"^\d+ passed", result), output[-2000:]
