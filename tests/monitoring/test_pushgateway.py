"""Run metrics in a real Prometheus Pushgateway, and the shipped alert rules in promtool."""

import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from batch_jobs.testing import run_job
from tests.support.docker import ROOT, client
from tests.support.http import silent_server

pytestmark = [pytest.mark.image, pytest.mark.django_db(transaction=True, databases="__all__")]

RULES = ROOT / "deploy" / "prometheus" / "batch-jobs.rules.yml"


@pytest.fixture(scope="module")
def monitoring_image():
    image, _ = client().images.build(
        path=str(Path(__file__).parent), tag="django-jobs-test-monitoring", rm=True
    )
    return image.id


@pytest.fixture(scope="module")
def pushgateway(monitoring_image):
    container = client().containers.run(
        monitoring_image, detach=True, ports={"9091/tcp": ("127.0.0.1", None)}
    )
    try:
        container.reload()
        port = container.ports["9091/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        container.remove(force=True)


def samples(url, job):
    """``{(metric, labels...): value}`` of one job's group, as the Pushgateway serves it."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("batch_job_") and sample.labels.get("job") == job:
                extra = tuple(
                    sorted((k, v) for k, v in sample.labels.items() if k not in ("job", "instance"))
                )
                found[(sample.name, *extra)] = sample.value
    return found


def run(*args, expect=0):
    result = run_job(*args)
    assert result.exit_code == expect, result.stderr


def test_a_success_then_a_failure_keeps_the_last_success(settings, pushgateway):
    settings.JOB_PUSHGATEWAY_URL = pushgateway
    before = time.time()
    run("fail_with", "0")
    first = samples(pushgateway, "fail_with")
    app = ("app", "django-jobs")
    last_success = first[("batch_job_last_success_time_seconds", ("app", "django-jobs"))]
    assert before <= last_success <= time.time()
    assert first[("batch_job_exit_code", app)] == 0
    assert first[("batch_job_status", app, ("status", "succeeded"))] == 1
    assert first[("batch_job_counter", app, ("counter", "calls"))] == 1

    time.sleep(0.01)  # kept: time passes, so that a new success would have a later time
    run("fail_with", "65", expect=65)
    second = samples(pushgateway, "fail_with")
    assert second[("batch_job_exit_code", app)] == 65
    assert second[("batch_job_status", app, ("status", "failed"))] == 1
    assert ("batch_job_status", app, ("status", "succeeded")) not in second
    assert second[("batch_job_last_success_time_seconds", app)] == last_success  # kept
    assert (
        second[("batch_job_start_time_seconds", app)] > first[("batch_job_start_time_seconds", app)]
    )
    assert second[("batch_job_duration_seconds", app)] >= 0


def test_a_dry_run_pushes_nothing(settings, pushgateway):
    settings.JOB_PUSHGATEWAY_URL = pushgateway
    run("echo_args", "--dry-run", "x")
    assert samples(pushgateway, "echo_args") == {}


@pytest.fixture
def silent_pushgateway():
    with silent_server() as url:
        yield url


@pytest.mark.parametrize("where", ["silent", "refused"])
def test_a_push_that_hangs_or_fails_is_one_log_line(settings, caplog, silent_pushgateway, where):
    settings.JOB_PUSHGATEWAY_URL = silent_pushgateway if where == "silent" else "http://127.0.0.1:9"
    settings.JOB_MONITOR_TIMEOUT = 0.5
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="batch_jobs"):
        run("fail_with", "0")
    assert time.monotonic() - started < 5
    failed = [r for r in caplog.records if getattr(r, "event", None) == "monitor_failed"]
    assert len(failed) == 1
    assert failed[0].getMessage().startswith("pushgateway finish failed: ")
    assert "\n" not in failed[0].getMessage()


def test_promtool_accepts_the_shipped_rules(monitoring_image):
    logs = (
        client()
        .containers.run(
            monitoring_image,
            ["promtool", "check", "rules", "/rules/batch-jobs.rules.yml"],
            volumes={str(RULES.parent): {"bind": "/rules", "mode": "ro"}},
            remove=True,
            stderr=True,
        )
        .decode()
    )
    assert "SUCCESS: 3 rules found" in logs, logs
