"""The framework's in-process tests on every driver, each in a Python 3.13 container.

The host lane runs them on PostgreSQL through psycopg 3. Here, side by side with the other
lanes (conftest.py): PostgreSQL through psycopg 2 (psycopg 3 uninstalled, so Django picks
psycopg 2, as in a project that never moved), and SQLite with no PostgreSQL driver installed at
all, which proves that nothing imports one; there the tests marked ``postgresql`` are skipped,
with that reason.
"""

import re

import pytest

pytestmark = pytest.mark.image


@pytest.mark.parametrize("lane", ["psycopg2"])
def test_framework_tests_pass_on_psycopg2(lane, lane_result):
    output = lane_result.output
    assert lane_result.status == 0, output[-5000:]
    assert "drivers: psycopg2\n" in output
    assert re.search(r"^\d+ passed", lane_result.last_line), output[-2000:]
    # Only what needs MariaDB is skipped.
    skips = [line for line in output.splitlines() if line.startswith("SKIPPED")]
    assert all("needs MariaDB" in line for line in skips), skips


@pytest.mark.parametrize("lane", ["sqlite"])
def test_framework_tests_pass_on_sqlite_with_no_postgresql_driver(lane, lane_result):
    output = lane_result.output
    assert lane_result.status == 0, output[-5000:]
    assert "drivers: none\n" in output
    assert re.search(r"^\d+ passed", lane_result.last_line), output[-2000:]
    assert " skipped" in lane_result.last_line  # what needs a server, with that reason
