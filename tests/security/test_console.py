"""The console's protections: frame protection and a Content-Security-Policy on every page,
malformed URLs answered 400 or 404 (never 500), `check --deploy` clean for the web service's
production settings, and the public development key refused outside local development.

In-process through Django's test client against real PostgreSQL; then through the real
console that compose's ``web`` service serves (gunicorn, WhiteNoise), over HTTP and in
headless Chromium, which reports every Content-Security-Policy violation (marked ``image``).
"""

import ast
import datetime
import html
import http.client
import http.cookiejar
import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.models import JobPause, JobRun, RunRequest
from tests.support.docker import ROOT
from tests.support.reliability import FULL

JOBS = "/admin/batch_jobs/jobrun/jobs/"
RUNS = "/admin/batch_jobs/jobrun/"


# -- hostile URL input --------------------------------------------------------------------

#: Characters that have broken URL handling somewhere: NUL (which PostgreSQL's text cannot
#: hold), other controls, separators, dot segments, escapes, invisible and astral characters.
SPECIAL = "\x00\x01\x1b\x7f/\\.%?#&=+; \t\n\u200b\ufeff\U0001f600\ud800"
EDGES = [
    *["\x00", "a\x00b", "..", "../..", "99999999999", "9999", "0", "-1", "1e9", "NaN"],
    *["\u0663", "x" * 70, "\U0001d7d9", "\ud800", "'", '"', "<script>", "null", "true", ""],
]
#: Text a hostile or careless client puts in a URL: special characters alone or inside text,
#: huge and negative numbers, edge values, any text, and bytes that are not UTF-8.
HOSTILE = st.one_of(
    st.sampled_from(EDGES),
    st.tuples(st.text(max_size=8), st.text(alphabet=SPECIAL, min_size=1), st.text(max_size=8)).map(
        "".join
    ),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.text(max_size=60),
    st.binary(max_size=12),
)
#: Query-string values: the hostile ones, and the plain ones the filters offer, so that a
#: hostile pair may come with valid ones.
VALUES = HOSTILE | st.sampled_from(["slow_batches", "failed", "pod-a", "1", "2026", "11"])


def encoded(value):
    """``value`` percent-encoded as a client would send it: text as UTF-8 (a lone surrogate
    as the bytes it would have been), bytes as they are, so invalid UTF-8 reaches the server."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    return urllib.parse.quote(value, safe="")


#: The console's paths, each with a slot for hostile input.
PATHS = [
    JOBS + "{}/",
    JOBS + "{}/pause/",
    JOBS + "{}/resume/",
    "/admin/batch_jobs/jobrun/gates/{}/",
    JOBS + "{}/run/",
    RUNS + "{}/",
    RUNS + "{}/change/",
    RUNS + "{}/history/",
    RUNS + "{}/stop/",
    RUNS + "{}/retry/",
    "/admin/batch_jobs/{}/",
    "/admin/batch_jobs/runrequest/{}/change/",
    "/admin/batch_jobs/jobpause/{}/change/",
    "/admin/{}/",
    "/admin/r/{}/1/",
    "/admin/login/?next={}",
]
#: The console's change lists, and the query-string keys they read: filters, the date
#: hierarchy, ordering, search, paging, and the admin's own flags.
LISTS = [RUNS, "/admin/batch_jobs/runrequest/", "/admin/batch_jobs/jobpause/"]
KEYS = [
    "job", "job__exact", "status__exact", "host", "dry_run__exact", "action__exact",
    "started_at__year", "started_at__month", "started_at__day", "started_at__gte",
    "o", "q", "p", "e", "all", "_to_field", "_popup", "_changelist_filters", "id", "run",
    "job__in", "pk__gt", "started_at__lt",
]  # fmt: skip


@st.composite
def console_requests(draw):
    """``(method, url)``: a console path with hostile input in its slot, or a change list with
    a hostile query string (one to three pairs)."""
    if draw(st.booleans()):
        url = draw(st.sampled_from(PATHS)).format(encoded(draw(HOSTILE)))
        return draw(st.sampled_from(["GET", "POST"])), url
    # Mostly keys the admin reads: an unknown key is refused before any value is looked at.
    key = st.integers(0, 9).flatmap(lambda n: HOSTILE if n == 0 else st.sampled_from(KEYS))
    pairs = draw(st.lists(st.tuples(key, VALUES), min_size=1, max_size=3))
    query = "&".join(f"{encoded(k)}={encoded(v)}" for k, v in pairs)
    return "GET", f"{draw(st.sampled_from(LISTS))}?{query}"


def record(job="slow_batches", **fields):
    now = timezone.now()
    fields.setdefault("started_at", now - datetime.timedelta(seconds=30))
    if fields.get("status", "running") != "running":
        fields.setdefault("finished_at", now)
        fields.setdefault("duration", fields["finished_at"] - fields["started_at"])
    return JobRun.objects.create(job=job, host=fields.pop("host", "pod-a"), **fields)


@pytest.fixture
def console(db, settings, django_user_model):
    """A superuser's client (every page and button), and records for every page to show:
    finished runs for the job page's chart, a live one, a request and a pause."""
    settings.JOB_APPS = ["testjobs", "batch_jobs"]
    for status, code in [("succeeded", 0), ("failed", 65), ("stopped", 3)]:
        record(status=status, exit_code=code, progress={"done": 50, "total": 50, "rate": 5.0})
    live = record(progress={"done": 10, "total": 100, "rate": 1.0, "eta_s": 90.0})
    RunRequest.objects.create(action="stop", job="slow_batches", run=live, requested_by="otto")
    JobPause.objects.create(job="upper_items", paused_by="otto")
    user = django_user_model.objects.create_superuser("root", password="pw")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    client.live = live
    return client


def console_pages(live):
    """Every page of the console, as a signed-in operator sees it."""
    return [
        "/admin/",
        "/admin/batch_jobs/",
        RUNS,
        f"{RUNS}?status__exact=failed&started_at__year={live.started_at.year}",
        f"{RUNS}{live.pk}/change/",
        f"{RUNS}{live.pk}/history/",
        JOBS,
        f"{JOBS}slow_batches/",
        f"{JOBS}upper_items/",
        "/admin/batch_jobs/jobrun/gates/",
        "/admin/batch_jobs/runrequest/",
        "/admin/batch_jobs/jobpause/",
    ]


def assert_protected(response):
    """Framing refused twice over (X-Frame-Options, frame-ancestors), and a policy that lets
    nothing run or style the page from inline code or another origin."""
    assert response["X-Frame-Options"] == "DENY"
    policy = dict(
        (d.split()[0], d.split()[1:]) for d in response["Content-Security-Policy"].split("; ")
    )
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert not {"script-src", "style-src"} & set(policy)  # default-src 'self' governs both
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


#: What a policy without 'unsafe-inline' blocks: inline scripts and event handlers, <style>
#: elements, style attributes, javascript: URLs.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


@pytest.mark.django_db
def test_every_console_page_forbids_framing_and_needs_no_inline_code(console):
    for url in console_pages(console.live):
        response = console.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert_protected(response)
        assert not INLINE.findall(response.content.decode()), url
    anonymous = Client().get("/admin/login/?next=/admin/")
    assert anonymous.status_code == 200
    assert_protected(anonymous)
    assert not INLINE.findall(anonymous.content.decode())


@pytest.mark.django_db
def test_the_buttons_answers_and_error_pages_cannot_be_framed_either(console):
    pressed = console.post(f"{JOBS}slow_batches/pause/")
    assert pressed.status_code == 302
    assert JobPause.objects.filter(job="slow_batches").exists()  # the button did its work
    for response in [pressed, console.get(f"{JOBS}%00/"), console.get(f"{RUNS}?job=%00")]:
        assert_protected(response)


# -- the issue's examples, by name ---------------------------------------------------------


@pytest.mark.django_db
def test_a_nul_in_a_job_name_is_404_not_500(console):
    # Was a 500: PostgreSQL's text cannot hold NUL, and the name went into a query.
    assert console.get(f"{JOBS}%00/").status_code == 404
    assert console.post(f"{JOBS}%00/pause/").status_code == 404
    assert console.get(f"{JOBS}slow%00batches/").status_code == 404
    assert console.get(f"{JOBS}{'x' * 65}/").status_code == 404  # longer than any job name
    assert not JobPause.objects.filter(job__contains="batches").exists()


@pytest.mark.django_db
def test_a_nul_in_a_pauses_id_is_the_admins_missing_record_not_500(console):
    # Found by the property in full: a pause's key is its job's name, so the id is text.
    for url in [
        "/admin/batch_jobs/jobpause/%00/change/",
        "/admin/batch_jobs/jobpause/%00/history/",
    ]:
        response = console.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/", url
    assert console.get("/admin/batch_jobs/jobpause/upper_items/change/").status_code == 200


@pytest.mark.django_db
def test_a_year_beyond_the_calendar_in_the_date_hierarchy_is_400_not_500(console):
    # Was a 500: an OverflowError building the date (Django's ticket #37357).
    assert console.get(f"{RUNS}?started_at__year=99999999999").status_code == 400
    assert console.get(f"{RUNS}?started_at__year=9999").status_code == 400  # the year after
    assert console.get(f"{RUNS}?started_at__year=2026&started_at__month=13").status_code == 400
    year = console.live.started_at.year
    assert console.get(f"{RUNS}?started_at__year={year}").status_code == 200


@pytest.mark.django_db
def test_a_nul_in_a_filter_value_is_400_not_500(console):
    for url in [f"{RUNS}?job=%00", f"{RUNS}?host=a%00b", "/admin/batch_jobs/runrequest/?job=%00"]:
        assert console.get(url).status_code == 400, url
    assert console.get(f"{RUNS}?job=slow_batches").status_code == 200


@pytest.mark.django_db
def test_a_run_id_the_column_cannot_hold_is_not_a_500(console):
    too_big = 2**63
    for url in [f"{RUNS}{too_big}/stop/", f"{RUNS}{too_big}/retry/", f"{RUNS}{too_big}/change/"]:
        assert console.post(url).status_code < 500, url
    assert not RunRequest.objects.exclude(action="stop", run=console.live).exists()


# -- the property ---------------------------------------------------------------------------


@settings(
    max_examples=2000 if FULL else 60,
    deadline=None,
    derandomize=not FULL,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(attempt=console_requests())
@pytest.mark.django_db
def test_no_console_url_or_query_string_is_a_500(console, attempt, report):
    method, url = attempt
    response = console.generic(method, url)
    report.add("console URLs (hypothesis, in-process)", response.status_code, range(100, 500))
    assert response.status_code < 500, (method, url)
    assert_protected(response)


# -- the example project's production settings ---------------------------------------------

#: The security page (docs/explanation/security.md), whose policy and production
#: environment these tests use as documented.
SECURITY_PAGE = ROOT / "docs" / "explanation" / "security.md"


def documented(heading, language):
    """The first ``language`` block under ``heading`` on the security page."""
    section = SECURITY_PAGE.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"^```{language}\n(.*?)^```", section, flags=re.M | re.S)[1]


#: Values for the secrets the documented production environment reads from files.
SECRETS = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DATABASE_URL": "postgres://console:unused@db.example.com:5432/jobs",
}


def production_env(secret_files=None):
    """The environment the image's ``web`` service runs with in production, as documented:
    each ``NAME_FILE`` a file in ``secret_files``, or (without) ``NAME`` with its value."""
    env = {"DJANGO_SETTINGS_MODULE": "app.settings", "DJANGO_REQUIRE_DATABASE_URL": "1"}
    for line in documented("Running the web service in production", "sh").splitlines():
        name, value = line.split("=", 1)
        secret = name.removesuffix("_FILE")
        if secret == name:
            env[name] = value
        elif secret_files is None:
            env[secret] = SECRETS[secret]
        else:
            path = secret_files / secret.lower()
            path.write_text(SECRETS[secret] + "\n")
            env[name] = str(path)
    return env


PRODUCTION = production_env()
#: The variables of the example project's settings that a production environment leaves out.
LOCAL_ONLY = ("DJANGO_DEBUG", "DJANGO_LOCAL_DEVELOPMENT", "DJANGO_SECURE_COOKIES")


def local_env():
    """compose's local environment: .envs/local.env as compose reads it."""
    lines = (ROOT / ".envs" / "local.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**base, **env},
        timeout=120,
    )


def test_the_documented_policy_is_the_one_the_example_project_sends():
    from django.conf import settings

    documented_policy = documented("The console's protections", "python")
    assert ast.literal_eval(documented_policy.split("=", 1)[1]) == settings.SECURE_CSP


def test_check_deploy_is_clean_for_the_web_services_production_settings(tmp_path):
    documented_env = production_env(secret_files=tmp_path)
    assert documented_env["DJANGO_HTTPS"] == "1" and "DJANGO_SECRET_KEY_FILE" in documented_env
    result = manage("check", "--deploy", "--fail-level", "WARNING", **documented_env)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    # The same check fails when the production switch is off: it is what makes it clean.
    plain_http = {**PRODUCTION, "DJANGO_HTTPS": "0"}
    plain = manage("check", "--deploy", "--fail-level", "WARNING", **plain_http)
    assert plain.returncode != 0
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= set(
        re.findall(r"security\.W\d+", plain.stderr)
    )


def test_the_shipped_development_key_is_refused_in_production_with_78_and_one_line():
    key = local_env()["DJANGO_SECRET_KEY"]
    result = manage("check", **{**PRODUCTION, "DJANGO_SECRET_KEY": key})
    assert result.returncode == 78, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "DJANGO_SECRET_KEY is the public development key" in result.stderr
    assert key not in result.stderr  # the message names the variable, not the key


@pytest.mark.parametrize("key", ["short", "a" * 60, "django-insecure-" + "x1y2z3" * 10])
def test_a_weak_key_is_refused_in_production_with_78_and_one_line(key):
    result = manage("check", **{**PRODUCTION, "DJANGO_SECRET_KEY": key})
    assert result.returncode == 78, result.stderr
    assert result.stderr.count("\n") == 1 and "DJANGO_SECRET_KEY is too weak" in result.stderr
    assert key not in result.stderr


def test_the_development_key_works_with_composes_local_environment():
    env = local_env()
    assert env["DJANGO_LOCAL_DEVELOPMENT"] == "1"
    result = manage("check", DJANGO_SETTINGS_MODULE="app.settings", **env)
    assert result.returncode == 0, result.stderr
    debug = {**PRODUCTION, "DJANGO_SECRET_KEY": "short", "DJANGO_DEBUG": "1"}
    assert manage("check", **debug).returncode == 0  # DEBUG is development too


def test_the_settings_know_the_key_that_local_env_ships():
    from app.settings import LOCAL_SECRET_KEY

    assert local_env()["DJANGO_SECRET_KEY"] == LOCAL_SECRET_KEY
    assert not set(LOCAL_ONLY) & set(PRODUCTION)


# -- through the real console: compose's web service ----------------------------------------

ADMIN_PASSWORD = "console-security-password"


@pytest.fixture(scope="module")
def served(image):
    """compose's stack (a project of this module's own) with ``web`` up, an admin, and runs
    for every page to show: ``(compose, base_url)``."""
    from tests.support.compose import Compose

    # A free port of its own: 8000, compose's default, may be another stack's.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    compose = Compose(prefix="jobs-sec", WEB_PORT=str(port))
    try:
        up = compose("up", "--detach", "--wait", "web")
        assert up.returncode == 0, up.stderr[-3000:]
        admin = compose(
            "run", "--rm", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={ADMIN_PASSWORD}", "web",
            "django-admin", "createsuperuser", "--noinput", "--username", "admin",
            "--email", "admin@example.com",
        )  # fmt: skip
        assert admin.returncode == 0, admin.stderr[-3000:]
        seeded = compose("run", "--rm", "-T", "job", "seed_demo_data", "--users", "300")
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        for _ in range(2):  # runs for the job page's chart
            dry = compose("run", "--rm", "-T", "job", "normalize_emails", "--dry-run")
            assert dry.returncode == 0, dry.stderr[-3000:]
        address = compose("port", "web", "8000").stdout.strip()
        yield compose, f"http://{address}"
    finally:
        compose.down()


class Session:
    """A signed-in browser-less client of the served console (cookies, CSRF token)."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        login = f"{base}/admin/login/?next=/admin/"
        page = self.opener.open(login).read().decode()
        data = {"csrfmiddlewaretoken": csrf(page), "username": "admin", "password": ADMIN_PASSWORD}
        self.opener.open(login, urllib.parse.urlencode(data).encode())

    def get(self, path):
        try:
            response = self.opener.open(self.base + path)
        except urllib.error.HTTPError as e:
            response = e
        return response.status, response.headers, response.read().decode("utf-8", "replace")


def csrf(page):
    return html.unescape(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1])


def raw_status(base, method, path, cookie=""):
    """The status of ``method path`` sent as is (no client-side normalising of the path)."""
    host, port = urllib.parse.urlsplit(base).netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        if cookie:
            connection.putheader("Cookie", cookie)
            # A POST carries the session's CSRF token, so that it reaches the view behind.
            token = re.search(r"csrftoken=([^;]+)", cookie)
            if method == "POST" and token:
                connection.putheader("X-CSRFToken", token[1])
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def session_cookie(session):
    jar = session.opener.handlers
    cookies = next(h.cookiejar for h in jar if isinstance(h, urllib.request.HTTPCookieProcessor))
    return "; ".join(f"{c.name}={c.value}" for c in cookies)


def served_pages(session):
    _, _, runs = session.get(RUNS)
    run_id = re.search(r'href="/admin/batch_jobs/jobrun/(\d+)/change/', runs)[1]
    return [
        "/admin/",
        RUNS,
        f"{RUNS}{run_id}/change/",
        JOBS,
        f"{JOBS}normalize_emails/",
        "/admin/batch_jobs/runrequest/",
        "/admin/batch_jobs/jobpause/",
    ]


@pytest.mark.image
def test_the_served_console_sends_the_headers_on_every_page(served):
    _, base = served
    session = Session(base)
    for path in served_pages(session):
        status, headers, body = session.get(path)
        assert status == 200, path
        assert_protected(headers)
        assert not INLINE.findall(body), path
    login = urllib.request.urlopen(f"{base}/admin/login/")
    assert_protected(login.headers)


@pytest.mark.image
def test_the_served_console_answers_the_issues_malformed_urls_with_400_or_404(served):
    _, base = served
    cookie = session_cookie(Session(base))
    assert raw_status(base, "GET", f"{JOBS}%00/", cookie) == 404
    assert raw_status(base, "GET", f"{RUNS}?started_at__year=99999999999", cookie) == 400
    assert raw_status(base, "GET", f"{RUNS}?job=%00", cookie) == 400
    assert raw_status(base, "GET", f"{JOBS}%ff%fe/", cookie) == 404  # not UTF-8


@pytest.mark.image
def test_a_seeded_sample_of_hostile_urls_through_http_is_never_a_500(served, report):
    _, base = served
    cookie = session_cookie(Session(base))
    sample = console_requests()

    @settings(max_examples=300 if FULL else 40, deadline=None, derandomize=not FULL)
    @given(attempt=sample)
    def through_http(attempt):
        method, url = attempt
        status = raw_status(base, method, url, cookie)
        report.add("console URLs (hypothesis, served)", status, range(100, 500))
        assert status < 500, (method, url)

    through_http()


@pytest.mark.image
def test_the_images_web_service_refuses_the_development_key_and_passes_check_deploy(served):
    compose, _ = served
    # compose's local environment, less its local flag: as if local.env reached production.
    leaked = compose("run", "--rm", "-T", "-e", "DJANGO_LOCAL_DEVELOPMENT=0", "web", "job", "check")
    assert leaked.returncode == 78, leaked.stderr[-3000:]
    assert (
        leaked.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "job: error: configuration error: DJANGO_SECRET_KEY is the public development key"
        )
    )
    # The web service itself (gunicorn) does not start: its workers fail to boot. (gunicorn
    # exits 3, or 1 when its two workers' failures race: either way, not serving.)
    web = compose("run", "--rm", "-T", "-e", "DJANGO_LOCAL_DEVELOPMENT=0", "web", timeout=120)
    assert web.returncode != 0, web.stderr[-3000:]
    assert "DJANGO_SECRET_KEY is the public development key" in web.stderr
    assert "Worker failed to boot" in web.stderr
    production = [f"--env={k}={v}" for k, v in PRODUCTION.items() if k != "DATABASE_URL"]
    check = compose(
        "run", "--rm", "-T", "-e", "DJANGO_LOCAL_DEVELOPMENT=0", *production, "web",
        "python", "/srv/manage.py", "check", "--deploy", "--fail-level", "WARNING",
    )  # fmt: skip
    assert check.returncode == 0, check.stderr[-3000:]
    assert "no issues" in check.stdout


# -- in a real browser: no Content-Security-Policy violation ---------------------------------


@pytest.fixture
def chromium(served):
    """Headless Chromium (tests/console's image) on the stack's network, its console log kept:
    Chromium logs every Content-Security-Policy violation there."""
    from selenium import webdriver

    from tests.console.test_browser import BROWSER_IMAGE, CHROMIUM_FLAGS, connect
    from tests.support.docker import client

    compose, _ = served
    image, _ = client().images.build(path=str(ROOT / "tests" / "console"), tag=BROWSER_IMAGE)
    container = client().containers.run(
        image.id,
        detach=True,
        network=compose.network,
        ports={"9515/tcp": ("127.0.0.1", None)},
        shm_size="256m",
    )
    try:
        container.reload()
        port = container.ports["9515/tcp"][0]["HostPort"]
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = connect(f"http://127.0.0.1:{port}", options)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        container.remove(force=True)


def violations(driver):
    """The Content-Security-Policy violations Chromium logged since the last call (its log,
    read through ChromeDriver's log endpoint: a remote WebDriver has no ``get_log``)."""
    from selenium.webdriver.remote.command import Command

    log = driver.execute(Command.GET_LOG, {"type": "browser"})["value"]
    return [e["message"] for e in log if "Content Security Policy" in e["message"]]


@pytest.mark.image
def test_the_console_raises_no_csp_violation_in_a_browser(served, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    web = "http://web:8000"  # as the browser, on the compose network, reaches the service
    chromium.get(f"{web}/admin/login/?next=/admin/")
    chromium.find_element(By.ID, "id_username").send_keys("admin")
    chromium.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(chromium, 20).until(lambda d: "Site administration" in d.title)
    seen = {"/admin/login/": violations(chromium)}
    for path in [
        "/admin/",
        RUNS,
        f"{RUNS}?started_at__year=2026",
        JOBS,
        f"{JOBS}normalize_emails/",
    ]:
        chromium.get(web + path)
        seen[path] = violations(chromium)
    assert chromium.find_elements(By.CSS_SELECTOR, "svg.job-chart rect")  # the chart drew
    run_id = chromium.find_element(By.CSS_SELECTOR, "#runs tr[data-run]").get_attribute("data-run")
    chromium.get(f"{web}{RUNS}{run_id}/change/")
    seen["a run's page"] = violations(chromium)
    # The buttons: Pause, then Resume, each a form post and a redirect back with a message.
    chromium.get(f"{web}{JOBS}normalize_emails/")
    for label in ["pause", "resume"]:
        chromium.find_element(By.CSS_SELECTOR, f'[data-action="{label}"]').click()
        WebDriverWait(chromium, 10).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist")
        )
        seen[label] = violations(chromium)
    # The console's stylesheet applied (it is a file now, not an inline <style>).
    button = chromium.find_element(By.CSS_SELECTOR, '[data-action="pause"]')
    assert button.value_of_css_property("cursor") == "pointer"
    assert {page: found for page, found in seen.items() if found} == {}

    # The check can fail: inline style, which the policy forbids, is reported.
    chromium.execute_script(
        "const s = document.createElement('style'); s.textContent = 'body {}';"
        "document.head.appendChild(s);"
    )
    control = []

    def reported(driver):
        control.extend(violations(driver))
        return control

    WebDriverWait(chromium, 10).until(reported)
    assert "inline style violates the following Content Security Policy" in control[0], control


@pytest.mark.django_db
def test_behind_the_tls_proxy_plain_http_is_redirected_but_the_health_check_is_not(settings):
    # What DJANGO_HTTPS=1 sets (settings are read once, at import: set here as it sets them).
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()
    redirected = client.get("/admin/login/")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/admin/login/"
    assert client.get("/admin/login/", headers={"X-Forwarded-Proto": "https"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # compose's and a kubelet's probe
