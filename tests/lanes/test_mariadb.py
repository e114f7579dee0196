"""The framework's in-process tests on MariaDB, in a Python 3.13 container with mysqlclient.

The host has no MySQL driver (mysqlclient builds from source), so this lane runs, as the
Django lanes do, ``tests/framework``, ``tests/ctl`` and the console's in-process tests in a
container of its own, against a MariaDB from Debian's package (``tests.support.mariadb``) on
the session's docker network, with a second MariaDB replicating it for the replica-lag tests
(``TEST_REPLICA_URL``), side by side with the other lanes (conftest.py). Tests marked
``postgresql`` are skipped there, those marked ``mysql`` run there only.
"""

import re

import pytest

pytestmark = pytest.mark.image


@pytest.mark.parametrize("lane", ["mariadb"])
def test_framework_tests_pass_on_mariadb(lane, lane_result):
    assert lane_result.status == 0, lane_result.output[-5000:]
    assert "mysqlclient " in lane_result.output
    assert re.search(r"^\d+ passed", lane_result.last_line), lane_result.output[-2000:]
