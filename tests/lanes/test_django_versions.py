"""The framework's in-process tests on Django 6.0 and 6.1, each in a Python 3.13 container.

The host lane (Python 3.11, Django 5.2 from the lock file) runs the whole suite; these lanes
run ``tests/framework``, ``tests/ctl`` and the console's in-process tests against the
session's PostgreSQL, reached as ``db``, side by side with the other lanes (conftest.py).
``make test`` runs the newest release's lane; ``make reliability`` both.
"""

import re

import pytest

from tests.support.reliability import full_only

pytestmark = pytest.mark.image


@pytest.mark.parametrize("lane", [pytest.param("6.0", marks=full_only), "6.1"])
def test_framework_tests_pass_on(lane, lane_result):
    assert lane_result.status == 0, lane_result.output[-5000:]
    assert f"django {lane}." in lane_result.output
    assert re.search(r"^\d+ passed", lane_result.last_line), lane_result.output[-2000:]
