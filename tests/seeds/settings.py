"""Settings of the seed tutorial's app, ``myapp``: its three commands, copied verbatim with
only their base class changed, importable as ``myapp`` (its parent directory goes on the path).
Apart from the test settings because the example project's store has commands of the same
names; ``make test`` runs this suite in a process of its own (tests/seeds/test_suite.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.settings import *  # noqa: F403

_OTHER_JOBS = ("app.store", "tests.testjobs")
INSTALLED_APPS = [a for a in INSTALLED_APPS if a not in _OTHER_JOBS] + ["myapp"]  # noqa: F405
# A test database of its own: the main suite's may exist on the same server.
for _alias in DATABASES.values():  # noqa: F405
    _alias.setdefault("TEST", {})["NAME"] = "test_seeds"
