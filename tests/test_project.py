"""Project-wide checks: lint, and the README and the reference kept in step with the code."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from batch_jobs.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["shellcheck", "entrypoint.sh", ".ci/run"],
    ],
    ids=["ruff-check", "ruff-format", "shellcheck"],
)
def test_lint(command):
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("page", ["docs/reference/exit-codes.md", "README.md"])
def test_exit_code_table_matches_the_contract(page):
    text = (ROOT / page).read_text()
    rows = re.findall(r"^\| (\d+(?:, \d+)*) \| (.+?) \|", text, flags=re.MULTILINE)
    codes = [int(code) for listed, _ in rows for code in listed.split(", ")]
    assert sorted(codes) == sorted(int(code) for code in ExitCode)


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", readme, flags=re.DOTALL)[:1]
    assert first_blocks, "README has no command block"
    assert first_blocks[0].splitlines()[:2] == [
        "docker compose run --rm job cleanup_tokens --dry-run",
        "make test",
    ]


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


def test_settings_reference_lists_every_framework_setting():
    from batch_jobs.conf import DEFAULTS

    table = (ROOT / "docs" / "reference" / "settings.md").read_text()
    listed = set(re.findall(r"^\| `(JOB_\w+)` \|", table, flags=re.MULTILINE))
    assert listed == set(DEFAULTS)
