"""The distribution: an sdist and a wheel of the framework alone, that twine accepts."""

import email
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [BIN / "uv", "build", "--out-dir", out, ROOT], check=True, capture_output=True, text=True
    )
    return out


def dist_info(names):
    return next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))


def test_the_wheel_holds_the_framework_and_nothing_else(dist):
    (wheel,) = dist.glob("django_batch_jobs-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = email.message_from_bytes(archive.read(f"{dist_info(names)}/METADATA"))
        entry_points = archive.read(f"{dist_info(names)}/entry_points.txt")
    packages = {name.split("/")[0] for name in names}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"batch_jobs"}
    assert "batch_jobs/migrations/0001_initial.py" in names
    assert "batch_jobs/management/commands/prune_job_runs.py" in names
    assert "batch_jobs/static/batch_jobs/console.css" in names  # the console's styles
    requires = metadata.get_all("Requires-Dist")
    assert "django<6.2,>=5.2" in requires
    # No database driver without an extra: a SQLite project installs none, and a psycopg 2
    # project does not get psycopg 3, which Django would then use instead.
    drivers = [r for r in requires if r.startswith("psycopg") and "extra ==" not in r]
    assert not drivers, drivers
    # Every dependency has a range a project can live with: a floor and a ceiling.
    for requirement in requires:
        assert re.search(r">=", requirement) and re.search(r"<", requirement), requirement
    classifiers = metadata.get_all("Classifier")
    assert {f"Framework :: Django :: {v}" for v in ("5.2", "6.0", "6.1")} <= set(classifiers)
    assert b"job = batch_jobs.cli.job:main" in entry_points
    assert b"jobctl = batch_jobs.cli.jobctl:main" in entry_points


def test_the_sdist_has_no_example_project(dist):
    (sdist,) = dist.glob("django_batch_jobs-*.tar.gz")
    with tarfile.open(sdist) as archive:
        tops = {name.split("/")[1] for name in archive.getnames() if "/" in name}
    assert "jobs" in tops
    assert not tops & {"app", "tests", "bench", "deploy", "manage.py"}


def test_twine_accepts_both(dist):
    result = subprocess.run(
        [BIN / "twine", "check", "--strict", *dist.glob("django_batch_jobs-*")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
