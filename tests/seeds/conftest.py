"""The seed suite runs under its own settings (tests.seeds.settings), in a process of its own:
the main suite collects only test_suite.py here, which starts that process."""

import os

import psycopg
import pytest

SEEDS_SETTINGS = "tests.seeds.settings"

if os.environ.get("DJANGO_SETTINGS_MODULE") == SEEDS_SETTINGS:
    collect_ignore = ["test_suite.py"]
else:
    collect_ignore = ["test_seed_commands.py", "myapp"]


@pytest.fixture
def other_session():
    """A second connection to the test database, as another process would have."""
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield conn
