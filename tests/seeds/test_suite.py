"""Runs the seed suite (the tutorial's commands with only their base class changed, and the
tutorial's own CleanupTokensTest) in a pytest process with the seed settings."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def server_url(request):
    if url := os.environ.get("TEST_DATABASE_URL"):
        return url
    from tests.conftest import PG_DB, PG_PASSWORD, PG_USER

    postgres = request.getfixturevalue("postgres")
    host, port = postgres.get_container_host_ip(), postgres.get_exposed_port(5432)
    return f"postgres://{PG_USER}:{PG_PASSWORD}@{host}:{port}/{PG_DB}"


def test_the_seed_commands_pass_the_seeds_own_tests_and_keep_the_contract(request):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.seeds.settings",
        "TEST_DATABASE_URL": server_url(request),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds",
            "tests.seeds.settings",
            str(HERE / "myapp" / "tests.py"),
            str(HERE / "test_seed_commands.py"),
        ],
        env=env,
        cwd=HERE.parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
