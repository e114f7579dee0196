"""The example project's rendered Kubernetes manifests, checked in under deploy/kubernetes."""

from pathlib import Path

import yaml
from click.testing import CliRunner

from batch_jobs.cli.jobctl import cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def test_checked_in_manifests_match_the_jobs(settings):
    # The example project's jobs and the framework's, as `make manifests` renders them.
    settings.JOB_APPS = ["store", "batch_jobs"]
    result = CliRunner().invoke(
        cli, ["render", "kubernetes", "--image", "django-jobs:latest"], prog_name="jobctl"
    )
    assert result.exit_code == 0, result.output
    assert (DEPLOY / "cronjobs.yaml").read_text() == result.output, (
        "deploy/kubernetes/cronjobs.yaml differs from the jobs' schedules: "
        "run `make manifests` and commit deploy/kubernetes/cronjobs.yaml"
    )
    worker = CliRunner().invoke(
        cli,
        ["render", "kubernetes", "--image", "django-jobs:latest", "--worker", "deployment"],
        prog_name="jobctl",
    )
    assert worker.exit_code == 0, worker.output
    assert (DEPLOY / "worker.yaml").read_text() == worker.output, (
        "deploy/kubernetes/worker.yaml differs from the jobs: run `make manifests` and commit it"
    )
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["cronjobs.yaml", "worker.yaml"]
