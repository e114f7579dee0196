"""The Run form of a job's page, through Django's test client against real PostgreSQL: its
fields read from the jobs' own parsers, its refusals the parsers' own messages, who may use
it, what a start records, and hostile input (hypothesis): never a 500, never a command line
the parser would refuse, nothing stored on a refusal."""

import html as html_module
import re
import shutil

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.framework.arguments import StoredFile, upload_storage
from batch_jobs.models import JobRun, RunRequest
from batch_jobs.operations import catalog, uploads
from tests.console.test_console import JOBS, page, staff, token
from tests.support.reliability import FULL

pytestmark = pytest.mark.django_db

GOOD_CSV = b"external_id,amount,created_at\nA-1,10.50,2026-01-01T00:00:00+00:00\n"


@pytest.fixture(autouse=True)
def jobs_and_media(settings, tmp_path):
    settings.JOB_APPS = ["testjobs", "batch_jobs", "store"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


def fields(html):
    """``{name: (tag, type)}`` of the Run form's fields, in order."""
    form = re.search(r'<form id="run-form".*?</form>', html, re.S).group()
    found = {}
    for tag, attrs in re.findall(r"<(input|select|textarea)([^>]*)>", form):
        name = re.search(r'name="([^"]+)"', attrs).group(1)
        if name != "csrfmiddlewaretoken":
            kind = re.search(r'type="([^"]+)"', attrs)
            found[name] = (tag, kind.group(1) if kind else "", "checked" in attrs)
    return found


def submit(client, job, data, files=None):
    """Post the Run form of ``job`` as a browser would (with the page's token)."""
    html = page(client, f"{JOBS}{job}/")
    return client.post(
        f"{JOBS}{job}/run/", {"csrfmiddlewaretoken": token(html), **data, **(files or {})}
    )


def refusal(response):
    assert response.status_code == 400, response.status_code
    html = response.content.decode()
    found = re.search(r'<ul class="errorlist[^"]*"[^>]*><li>(.*?)</li>', html, re.S).group(1)
    return html_module.unescape(found)


def parser_message(job, argv):
    """What the job's own parser says of ``argv``."""
    parser = catalog.get(job).command.create_parser("job", job)
    with pytest.raises(CommandError) as refused:
        parser.parse_args(argv)
    return str(refused.value).removeprefix("Error: ")


def test_the_form_shows_every_option_of_the_jobs_parser(operator):
    html = page(operator, f"{JOBS}normalize_emails/")
    found = fields(html)
    names = list(found)
    assert names[0] == "dry_run" and found["dry_run"] == ("input", "checkbox", True)
    assert found["strategy"][0] == "select"
    for choice in ("python", "set", "iterator"):
        assert f'<option value="{choice}">{choice}</option>' in html
    assert {"batch_size", "throttle", "shard", "restart", "max_runtime"} <= set(found)
    assert "verbosity" not in found and "settings" not in found
    assert "a positive whole number" in html and "default 5000" in html  # type and default
    # A required option, its help; a secret one as a password field.
    html = page(operator, f"{JOBS}connect_with/")
    found = fields(html)
    assert found["dsn"] == ("input", "password", False)
    assert "Where to read from. (secret; required)" in html
    # A file argument as an upload.
    found = fields(page(operator, f"{JOBS}import_orders/"))
    assert found["path"] == ("input", "file", False)


def test_a_viewer_sees_no_form_and_a_forged_post_is_403(viewer):
    html = page(viewer, f"{JOBS}normalize_emails/")
    assert 'id="run-form"' not in html
    response = viewer.post(
        f"{JOBS}normalize_emails/run/", {"csrfmiddlewaretoken": token(html), "dry_run": "on"}
    )
    assert response.status_code == 403
    assert not RunRequest.objects.exists()


def test_a_start_records_who_when_and_the_command_line(operator):
    response = submit(operator, "normalize_emails", {"dry_run": "on", "batch_size": "200"})
    assert response.status_code == 302
    start = RunRequest.objects.get()
    assert (start.action, start.job, start.requested_by) == ("start", "normalize_emails", "otto")
    assert start.argv == ["--dry-run", "--batch-size=200"]
    assert start.requested_at is not None and start.handled_at is None
    html = page(operator, response["Location"])
    assert f"request {start.pk}</a>, <code>job normalize_emails --dry-run --batch-size=200" in html
    assert f'href="/admin/batch_jobs/jobrun/jobs/normalize_emails/#request-{start.pk}"' in html
    assert f'id="request-{start.pk}"' in html and "pending" in html


def test_a_claim_whose_worker_was_lost_says_so_and_what_to_do(operator):
    """A worker killed with SIGKILL leaves its request claimed and not handled: the page says
    who claimed it, and, once its run has ended without the worker recording it, how to run
    it again, instead of "running" for ever."""
    gone = "node-7 pid 41"
    run = JobRun.objects.create(job="normalize_emails", status="abandoned")
    lost = RunRequest.objects.create(
        action="start",
        job="normalize_emails",
        argv=[],
        requested_by="otto",
        claimed_at=timezone.now(),
        claimed_by=gone,
        started_run=run,
    )
    waiting = RunRequest.objects.create(
        action="start",
        job="normalize_emails",
        argv=[],
        requested_by="otto",
        claimed_at=timezone.now(),
        claimed_by="node-8 pid 42",
    )
    html = page(operator, f"{JOBS}normalize_emails/")
    row = re.search(rf'<tr id="request-{lost.pk}".*?</tr>', html, re.S).group()
    assert f"claimed by {gone}" in row and "run abandoned" in row
    assert f"its worker is gone: start it again, or retry run {run.pk}" in row
    row = re.search(rf'<tr id="request-{waiting.pk}".*?</tr>', html, re.S).group()
    assert "running, claimed by node-8 pid 42" in row and "gone" not in row


def test_dry_run_is_on_unless_unticked(operator):
    submit(operator, "normalize_emails", {"strategy": "set"})  # a browser sends no unticked box
    assert RunRequest.objects.get().argv == ["--strategy=set"]


@pytest.mark.parametrize(
    ("job", "data", "argv"),
    [
        ("normalize_emails", {"batch_size": "many"}, ["--batch-size=many"]),
        ("normalize_emails", {"strategy": "fast"}, ["--strategy=fast"]),
        ("normalize_emails", {"shard": "3/2"}, ["--shard=3/2"]),
        ("prune_job_runs", {"older_than": "soon"}, ["--older-than=soon"]),
        ("prune_job_runs", {}, []),
        ("connect_with", {"label": "x"}, ["--label=x"]),
        ("send_daily_report", {"to": "not-an-address"}, ["--to", "not-an-address"]),
    ],
)
def test_a_refusal_is_the_parsers_own_message(operator, job, data, argv):
    message = refusal(submit(operator, job, {"dry_run": "on", **data}))
    assert message == parser_message(job, argv)
    assert not RunRequest.objects.exists()


def test_secrets_are_password_fields_and_never_shown_or_recorded(operator, django_user_model):
    response = submit(operator, "connect_with", {"dsn": "pg://u:hunter2-secret@db/x"})
    assert response.status_code == 302
    start = RunRequest.objects.get()
    assert start.argv == ["--dsn=***"]
    assert start.secrets == {"0": "--dsn=pg://u:hunter2-secret@db/x"}  # until claimed
    html = page(operator, response["Location"])
    assert "hunter2" not in html and "--dsn=***" in html
    auditor = staff(django_user_model, "ada", "view_runrequest")
    assert "hunter2" not in page(auditor, f"/admin/batch_jobs/runrequest/{start.pk}/change/")
    # Refused: the secret is not sent back into the page.
    response = submit(operator, "connect_with", {"dsn": "hunter2-again\x00"})
    assert response.status_code == 400 and "hunter2" not in response.content.decode()


def test_an_uploaded_csv_goes_to_the_storage_and_its_name_to_the_command_line(
    operator, jobs_and_media
):
    upload = SimpleUploadedFile("../../etc/orders.csv", GOOD_CSV, "text/csv")
    response = submit(operator, "import_orders", {"dry_run": "on"}, {"path": upload})
    assert response.status_code == 302, refusal(response)
    argv = RunRequest.objects.get().argv
    assert argv[:2] == ["--dry-run", "--"]
    stored = StoredFile(argv[2])
    assert stored.stored and re.fullmatch(
        r"batch_jobs/uploads/\d{4}/\d\d/\d\d/[0-9a-f]{32}/orders\.csv", stored.name
    )
    assert (jobs_and_media / stored.name).read_bytes() == GOOD_CSV  # inside the storage
    # The job reads it through the storage.
    call_command("import_orders", *argv)
    assert JobRun.objects.get(job="import_orders").status == "succeeded"


def test_an_upload_over_the_limit_is_refused_and_not_stored(operator, settings, jobs_and_media):
    settings.JOB_UPLOAD_MAX_SIZE = 10
    upload = SimpleUploadedFile("orders.csv", GOOD_CSV)
    message = refusal(submit(operator, "import_orders", {}, {"path": upload}))
    assert message == (
        f"orders.csv is {len(GOOD_CSV)} bytes; uploads may have 10 bytes at most "
        "(JOB_UPLOAD_MAX_SIZE)"
    )
    assert not RunRequest.objects.exists()
    assert not list(jobs_and_media.rglob("*.csv"))


def test_a_refused_start_stores_no_upload(operator, jobs_and_media):
    upload = SimpleUploadedFile("orders.csv", GOOD_CSV)
    message = refusal(submit(operator, "import_orders", {"batch_size": "0"}, {"path": upload}))
    assert message.startswith("argument --batch-size: must be a positive whole number")
    assert not RunRequest.objects.exists()
    assert not list(jobs_and_media.rglob("*.csv"))


def test_the_run_page_shows_the_output_lines_redacted_and_printable(viewer):
    run = JobRun.objects.create(
        job="normalize_emails",
        status="running",
        output={
            "lines": [
                ["stdout", "batch 1 done"],
                ["stderr", "warning: password=hunter2 \x1b[31mred"],
                ["stdout", "<script>alert(1)</script>"],
            ],
            "total": 1203,
        },
    )
    html = page(viewer, f"/admin/batch_jobs/jobrun/{run.pk}/change/")
    assert "the last 3 of 1,203 lines, as it runs" in html
    assert '<span class="output-stdout">batch 1 done</span>' in html
    assert '<span class="output-stderr">warning: password=*** \\x1b[31mred</span>' in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert 'http-equiv="refresh"' in html  # reloads while it runs


# -- hostile input ----------------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.sampled_from(["--help", "--settings=x", "-h", "--", "--dry-run", "../../etc/passwd"]),
    st.sampled_from(["\x00", "a\x00b", "\x1b[2J", "\u202e", "\ud800", "x" * 5000, " ", "-1"]),
    st.text(max_size=40),
    st.binary(max_size=16).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
FILE_NAMES = st.one_of(
    st.sampled_from(["../../x.csv", "/etc/passwd", "..", ".", "", "a/../../b", "\x00.csv"]),
    st.text(max_size=30),
)


BOUNDARY = "hostile-boundary-7f3a"


def multipart(values, files):
    """A multipart body as any client may send it: text as UTF-8 (a lone surrogate as the
    bytes it would have been, so invalid UTF-8 reaches the server), file names unsanitized."""

    def raw(text):
        return text.encode("utf-8", "surrogatepass")

    parts = []
    for name, value in values.items():
        parts.append(
            b'Content-Disposition: form-data; name="%s"\r\n\r\n%s' % (raw(name), raw(value))
        )
    for name, (file_name, content) in files.items():
        quoted = raw(file_name).replace(b'"', b"%22").replace(b"\r", b"").replace(b"\n", b"")
        parts.append(
            b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
            b"Content-Type: text/csv\r\n\r\n%s" % (raw(name), quoted, content)
        )
    boundary = b"--" + BOUNDARY.encode()
    return b"".join(boundary + b"\r\n" + part + b"\r\n" for part in parts) + boundary + b"--\r\n"


@settings(
    max_examples=60 if FULL else 15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    job=st.sampled_from(["normalize_emails", "import_orders", "connect_with", "echo_args"]),
    values=st.dictionaries(
        st.sampled_from(["batch_size", "strategy", "shard", "dsn", "label", "words", "path"]),
        HOSTILE_TEXT,
        max_size=4,
    ),
    file_name=FILE_NAMES,
)
def test_hostile_input_is_answered_never_a_500_nor_a_command_line_the_parser_refuses(
    operator, jobs_and_media, job, values, file_name
):
    RunRequest.objects.all().delete()
    shutil.rmtree(jobs_and_media, ignore_errors=True)
    with_file = job == "import_orders" and "path" not in values
    html = page(operator, f"{JOBS}{job}/")
    body = multipart(
        {"csrfmiddlewaretoken": token(html), **values},
        {"path": (file_name, GOOD_CSV)} if with_file else {},
    )
    response = operator.post(
        f"{JOBS}{job}/run/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert response.status_code in (302, 400), response.status_code
    starts = list(RunRequest.objects.all())
    if response.status_code == 400:
        assert starts == []
        assert not [p for p in jobs_and_media.rglob("*") if p.is_file()]
        return
    (start,) = starts
    parser = catalog.get(job).command.create_parser("job", job)
    words = [
        start.secrets.get(str(n), word) if word.endswith("***") else word
        for n, word in enumerate(start.argv)
    ]
    parser.parse_args(words)  # the runner accepts what was recorded
    for word in words:
        if StoredFile.PREFIX in word:
            name = StoredFile(word.split("=", 1)[-1]).name
            assert name.startswith(uploads.UPLOADS + "/") and ".." not in name.split("/")
            assert upload_storage().exists(name)
