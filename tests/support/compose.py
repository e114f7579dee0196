"""``docker compose`` on this checkout's compose.yaml, in a project of its own, on the image the
test session built."""

import os
import subprocess
import uuid

from tests.support.docker import ROOT, TEST_IMAGE


class Compose:
    """``compose(*args)`` runs ``docker compose -p <project> *args`` and returns the result."""

    def __init__(self, prefix="jobs-e2e", **env):
        self.project = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "JOB_IMAGE": TEST_IMAGE, **env}

    def command(self, *args):
        return ["docker", "compose", "-p", self.project, *args]

    def __call__(self, *args, timeout=600):
        return subprocess.run(
            self.command(*args),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )

    def popen(self, *args):
        """Start ``docker compose ... *args`` in the background; its stdout and stderr are
        pipes of text."""
        return subprocess.Popen(
            self.command(*args),
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def network(self):
        return f"{self.project}_default"

    def down(self):
        self("down", "--volumes", "--remove-orphans", "--timeout", "5")
