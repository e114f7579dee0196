"""The console in the Django admin, through Django's test client against real PostgreSQL:
what viewers and operators see, and what each button records."""

import datetime
import re
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from batch_jobs.models import JobCheckpoint, JobPause, JobRun, JobShardPlan, RunRequest
from tests.testjobs.management.commands.echo_args import Command as EchoArgs
from tests.testjobs.management.commands.fail_with import Command as FailWith

pytestmark = pytest.mark.django_db

JOBS = "/admin/batch_jobs/jobrun/jobs/"


@pytest.fixture(autouse=True)
def only_test_jobs(settings):
    settings.JOB_APPS = ["testjobs", "batch_jobs"]


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def record(job="slow_batches", **fields):
    now = timezone.now()
    fields.setdefault("started_at", now - datetime.timedelta(seconds=30))
    if fields.get("status", "running") != "running":
        fields.setdefault("finished_at", now)
        fields.setdefault("duration", fields["finished_at"] - fields["started_at"])
    return JobRun.objects.create(job=job, host=fields.pop("host", "pod-a"), **fields)


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response
    return response.content.decode()


def forms(html):
    """``{label: (action, next)}`` of the console's buttons on a page."""
    found = re.findall(
        r'<form class="console-action" method="post" action="([^"]+)">.*?'
        r'name="next" value="([^"]*)".*?data-action="[^"]+">([^<]+)</button>',
        html,
    )
    return {label: (action, nxt) for action, nxt, label in found}


def token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def press(client, url, label):
    """Press the button ``label`` on page ``url`` as a browser would; the response."""
    html = page(client, url)
    action, nxt = forms(html)[label]
    return client.post(action, {"csrfmiddlewaretoken": token(html), "next": nxt}, follow=True)


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(JOBS)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.post(f"{JOBS}slow_batches/pause/").status_code == 302
    assert not JobPause.objects.exists()


def test_the_run_list_shows_progress_eta_and_the_error_and_filters(viewer):
    live = record(progress={"done": 40, "total": 100, "rate": 10.0, "eta_s": 6.0})
    failed = record(status="failed", exit_code=65, error="bad input: row 7", host="pod-b")
    html = page(viewer, "/admin/batch_jobs/jobrun/")
    assert '<progress value="40" max="100"></progress> 40/100 rows 40% 10/s' in html
    assert re.search(r"\d+\.\ds \(\d\d:\d\d\)", html)  # the ETA: seconds left, and when
    assert "bad input: row 7" in html
    assert 'http-equiv="refresh"' in html  # a live run: the page reloads itself

    def shown(query):
        html = page(viewer, f"/admin/batch_jobs/jobrun/?{query}")
        return {int(i) for i in re.findall(r'href="/admin/batch_jobs/jobrun/(\d+)/change/', html)}

    assert shown("status__exact=failed") == {failed.pk}
    assert shown("host=pod-a") == {live.pk}
    assert shown("job=slow_batches") == {live.pk, failed.pk}


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_403(viewer):
    running = record()
    failed = record(status="failed", exit_code=1, argv=[])
    pages = [f"{JOBS}slow_batches/", f"/admin/batch_jobs/jobrun/{running.pk}/change/"]
    for url in pages:
        assert forms(page(viewer, url)) == {}
    csrf = token(page(viewer, JOBS))  # the logout form's: a valid token, no permission
    for action in [
        f"/admin/batch_jobs/jobrun/{running.pk}/stop/",
        f"/admin/batch_jobs/jobrun/{failed.pk}/retry/",
        f"{JOBS}slow_batches/pause/",
        f"{JOBS}slow_batches/resume/",
    ]:
        assert viewer.post(action, {"csrfmiddlewaretoken": csrf}).status_code == 403
    assert not RunRequest.objects.exists() and not JobPause.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(operator):
    running = record()
    response = operator.post(f"/admin/batch_jobs/jobrun/{running.pk}/stop/")
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert not RunRequest.objects.exists()


def test_buttons_take_posts_only(operator):
    running = record()
    assert operator.get(f"/admin/batch_jobs/jobrun/{running.pk}/stop/").status_code == 405


def test_stop_records_the_request_with_the_user_and_returns_to_the_page(operator):
    running = record()
    before = timezone.now()
    response = press(operator, f"{JOBS}slow_batches/", "Stop")
    assert response.redirect_chain == [(f"{JOBS}slow_batches/", 302)]
    request = RunRequest.objects.get()
    assert (request.action, request.run_id, request.requested_by) == ("stop", running.pk, "otto")
    assert request.requested_at >= before and request.handled_at is None
    assert f"Asked run {running.pk} (slow_batches on pod-a) to stop" in response.content.decode()
    assert "Stop" in forms(page(operator, f"/admin/batch_jobs/jobrun/{running.pk}/change/"))


def test_stopping_a_finished_run_says_so(operator):
    running = record()
    html = page(operator, f"{JOBS}slow_batches/")
    JobRun.objects.filter(pk=running.pk).update(status="succeeded", exit_code=0)
    action, nxt = forms(html)["Stop"]
    response = operator.post(action, {"csrfmiddlewaretoken": token(html), "next": nxt}, follow=True)
    assert f"Run {running.pk} (slow_batches) has ended (succeeded)" in response.content.decode()
    assert not RunRequest.objects.exists()


def test_pause_and_resume_record_the_user_and_show_on_the_job_page(operator):
    url = f"{JOBS}upper_items/"
    assert "Resume" not in forms(page(operator, url))
    press(operator, url, "Pause")
    assert JobPause.objects.get(job="upper_items").paused_by == "otto"
    html = page(operator, url)
    assert re.search(r'id="paused">yes, by otto at ', html)
    assert set(forms(html)) == {"Resume"}
    press(operator, url, "Resume")
    assert not JobPause.objects.exists()
    assert [(r.action, r.requested_by) for r in RunRequest.objects.order_by("requested_at")] == [
        ("pause", "otto"),
        ("resume", "otto"),
    ]


def test_pausing_a_job_that_is_not_in_the_project_is_refused(operator):
    record(job="gone_job", status="succeeded", exit_code=0)
    html = page(operator, f"{JOBS}gone_job/")  # its records still show
    assert "not a job of this project" in html and forms(html) == {}
    csrf = token(html)
    response = operator.post(f"{JOBS}gone_job/pause/", {"csrfmiddlewaretoken": csrf}, follow=True)
    assert "No job &#x27;gone_job&#x27; in this project" in response.content.decode()
    assert not JobPause.objects.exists()
    assert operator.get(f"{JOBS}never_heard_of/").status_code == 404


@pytest.mark.django_db(transaction=True)  # run_from_argv closes the connections at its end
def test_retry_is_recorded_and_taken_up_by_the_next_run_with_the_same_arguments(operator):
    failed = record(job="fail_with", status="failed", exit_code=75, argv=["0"])
    response = press(operator, f"{JOBS}fail_with/", "Retry")
    assert f"Retry of run {failed.pk} recorded" in response.content.decode()
    request = RunRequest.objects.get()
    assert (request.action, request.run_id, request.requested_by) == ("retry", failed.pk, "otto")
    assert request.handled_at is None
    again = press(operator, f"/admin/batch_jobs/jobrun/{failed.pk}/change/", "Retry")
    assert f"A retry of run {failed.pk} is already pending" in again.content.decode()

    EchoArgs().run_from_argv(["manage.py", "echo_args", "1"])  # not the same job: no answer
    request.refresh_from_db()
    assert request.handled_at is None
    call_command("fail_with", "0", stdout=StringIO())  # from code, no command line: none
    request.refresh_from_db()
    assert request.handled_at is None
    FailWith().run_from_argv(["manage.py", "fail_with", "0"])
    request.refresh_from_db()
    assert request.handled_at is not None
    assert "pending" not in page(operator, f"{JOBS}fail_with/").split('id="requests"')[1]


@pytest.mark.django_db(transaction=True)
def test_secret_arguments_stay_redacted(operator):
    EchoArgs().run_from_argv(["manage.py", "echo_args", "--", "--token", "hunter2", "plain"])
    run = JobRun.objects.get(job="echo_args")
    for url in [f"/admin/batch_jobs/jobrun/{run.pk}/change/", f"{JOBS}echo_args/", JOBS]:
        html = page(operator, url)
        assert "hunter2" not in html
    assert "***" in page(operator, f"/admin/batch_jobs/jobrun/{run.pk}/change/")


def test_a_run_page_says_how_its_walk_was_paced(viewer):
    run = record(
        status="succeeded",
        exit_code=0,
        walk={"batch_size": 12500, "health_waits": 2, "health_wait_s": 75.0, "done": True},
    )
    html = page(viewer, f"/admin/batch_jobs/jobrun/{run.pk}/change/")
    assert (
        "batches of 12,500 rows (the last); waited for database health 2 times, 1m 15s in all"
        in html
    )


def test_the_job_page_shows_schedule_next_runs_checkpoint_and_a_chart(viewer):
    now = timezone.now()
    for i, status in enumerate(["succeeded", "failed", "skipped", "succeeded"]):
        start = now - datetime.timedelta(hours=4 - i)
        record(
            job="scheduled_noop",
            status=status,
            exit_code=0,
            started_at=start,
            duration=datetime.timedelta(seconds=10 * (i + 1)),
            progress={"done": 1000 * (i + 1), "rate": 1.0},
        )
    JobCheckpoint.objects.create(
        job="scheduled_noop", arguments_hash="x", last_key=4242, rows=1234, counters={}
    )
    html = page(viewer, f"{JOBS}scheduled_noop/")
    assert "<code>30 2 * * *</code> (UTC)" in html
    next_runs = re.search(r'id="next-runs">(.*?)</td>', html).group(1).split("<br>")
    assert len(next_runs) == 5 and all(" 02:30 UTC" in when for when in next_runs)
    assert "after key <code>4242</code>, 1234 rows walked" in html
    assert 'id="shard-plans"' not in html
    JobShardPlan.objects.create(
        job="scheduled_noop", arguments_hash="x", shards=4, bounds=[1, 2, 3], finished=[0, 2]
    )
    plans = re.search(r'id="shard-plans">(.*?)</td>', page(viewer, f"{JOBS}scheduled_noop/"))
    assert plans[1].startswith("4 shards planned ") and plans[1].endswith("finished: 0, 2")
    chart = re.search(r'<div class="console-section" id="chart">(.*?)</div>', html, re.S)[1]
    bars = re.findall(r"<title>(#\d+ \w+: [^<]+)</title>", chart)
    # Three runs that worked, twice (duration, rows per second); the skipped one is left out.
    assert len(bars) == 6 and not any("skipped" in bar for bar in bars)
    assert any(bar.endswith("succeeded: 40.0s") for bar in bars)
    assert any(bar.endswith("succeeded: 100/s") for bar in bars)  # 4000 rows in 40 s


def test_the_jobs_page_lists_every_job_with_its_next_run_and_last_run(viewer):
    record(job="upper_items", status="failed", exit_code=75)
    JobPause.objects.create(job="scheduled_noop", paused_by="ops")
    html = page(viewer, JOBS)
    rows = dict(re.findall(r'<tr>\s*<td><a href="[^"]+">(\w+)</a>(.*?)</tr>', html, re.S))
    assert {"upper_items", "scheduled_noop", "slow_batches", "prune_job_runs"} <= rows.keys()
    assert "failed</span> (75)" in rows["upper_items"]
    assert "paused by ops" in rows["scheduled_noop"]
    assert re.search(r"\d{4}-\d\d-\d\d 02:30 UTC", rows["scheduled_noop"])
    assert "never ran" in rows["slow_batches"]


def test_every_page_forbids_framing_with_the_projects_policy(viewer):
    # On Django 6.0+ (the lanes) Django's own CSP middleware sends SECURE_CSP; on 5.2, app/csp.py.
    record()
    for url in ["/admin/batch_jobs/jobrun/", JOBS, f"{JOBS}slow_batches/"]:
        response = viewer.get(url)
        assert response.status_code == 200
        assert response["X-Frame-Options"] == "DENY"
        policy = response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy


# -- migration gates ------------------------------------------------------------------------

GATES = "/admin/batch_jobs/jobrun/gates/"


@pytest.fixture
def gated(settings):
    """The gated test app's migrations with its gate (``tests/gated/gates``), pending."""
    settings.JOB_APPS = ["testjobs", "gated", "batch_jobs"]
    settings.MIGRATION_MODULES = {"gated": "tests.gated.gates"}


def gate_rows(html):
    return dict(re.findall(r'<tr data-migration="([^"]+)">(.*?)</tr>', html, re.S))


def test_a_jobs_page_shows_the_gates_that_wait_on_it(viewer, gated):
    from batch_jobs.testing import run_job
    from tests.gated.models import Gadget

    row = gate_rows(page(viewer, f"{JOBS}fill_slugs/"))["gated.0002_require_slugs"]
    assert '<td class="applied">pending</td>' in row
    assert "fill_slugs: never run (blocks migrate)" in row
    Gadget.objects.bulk_create(Gadget(name=f"G{i}") for i in range(12))
    assert run_job("fill_slugs").exit_code == 0  # a real run finishes the backfill
    row = gate_rows(page(viewer, f"{JOBS}fill_slugs/"))["gated.0002_require_slugs"]
    assert re.search(r"fill_slugs: finished, 12 (of ~12 )?rows, run \d+ succeeded</td>", row)
    assert 'id="gates"' not in page(viewer, f"{JOBS}upper_items/")  # no gate waits on it


def test_the_gates_page_lists_the_pending_gates_for_viewers(viewer, gated, client):
    html = page(viewer, JOBS)
    assert f'<a href="{GATES}">Pending migration gates</a>' in html
    (row,) = gate_rows(page(viewer, GATES)).values()
    assert f'<a href="{JOBS}fill_slugs/">fill_slugs</a>' in row
    assert "fill_slugs: never run" in row and '<td class="blocks">yes</td>' in row
    # Applied, the gate is no longer pending: the page says nothing waits.
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder.Migration.objects.create(app="gated", name="0002_require_slugs")
    html = page(viewer, GATES)
    assert not gate_rows(html) and "No pending migration waits on a backfill." in html
    assert client.get(GATES).status_code == 302  # anonymous: to the login page


def test_the_gates_page_takes_the_view_permission(django_user_model, gated):
    nobody = staff(django_user_model, "nora")
    assert nobody.get(GATES).status_code == 403
    assert nobody.get(f"{GATES}x/").status_code == 404  # names nothing (not a run "gates/x")


def test_a_gate_naming_no_job_is_said_on_the_gates_page_not_a_500(viewer, settings):
    settings.JOB_APPS = ["testjobs", "gated", "batch_jobs"]
    settings.MIGRATION_MODULES = {"gated": "tests.gated.broken"}
    assert (
        '<p class="errornote" id="gates-error">migration gate gated.0002_require_nothing: '
        "migration gate: no job named &#x27;fill_slgus&#x27; in this project</p>"
    ) in page(viewer, GATES)
    # The other jobs' pages read only their own gates.
    assert 'id="gates-error"' not in page(viewer, f"{JOBS}fill_slugs/")
