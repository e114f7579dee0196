"""The console in a real browser: headless Chromium (Debian's, in a test image) driven through
WebDriver against compose's ``web`` service, while a job runs in compose's ``job`` service, and
runs started from the Run form run in compose's ``worker`` service.

Screenshots of the run list, the job page, the Run form, a run's output and the pending
migration gates are saved in build/screenshots/."""

import io
import os
import re
import tarfile
import threading
import time

import docker
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.compose import Compose
from tests.support.docker import ROOT, client

pytestmark = pytest.mark.image

BROWSER_IMAGE = "jobs-console-browser:test"
SCREENSHOTS = ROOT / "build" / "screenshots"
WEB = "http://web:8000"  # as the browser, on the compose network, reaches the web service
ADMIN_PASSWORD = "console-test-password"
VIEWER = "viewer"
# Chromium on a machine without a network of its own: no background connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,1000",
]
# A staff user who may look at runs but not operate them.
CREATE_VIEWER = f"""
from django.contrib.auth.models import Permission, User
user = User.objects.create_user({VIEWER!r}, password={ADMIN_PASSWORD!r}, is_staff=True)
user.user_permissions.add(Permission.objects.get(codename="view_jobrun"))
"""


@pytest.fixture(scope="module")
def stack(image):
    """The compose stack with its web service up and healthy, an admin created the README's
    way, and a user who may only view."""
    compose = Compose(
        prefix="jobs-console",
        WEB_PORT="",
        COMPOSE_FILE=f"compose.yaml{os.pathsep}tests/console/browser.compose.yaml",
    )
    try:
        up = compose("up", "--detach", "--wait", "web", "worker")
        assert up.returncode == 0, up.stderr[-3000:]
        admin = compose(
            "run", "--rm", "-T", "-e", f"DJANGO_SUPERUSER_PASSWORD={ADMIN_PASSWORD}", "web",
            "django-admin", "createsuperuser", "--noinput", "--username", "admin",
            "--email", "admin@example.com",
        )  # fmt: skip
        assert admin.returncode == 0, admin.stderr[-3000:]
        viewer = compose("run", "--rm", "-T", "web", "django-admin", "shell", "-c", CREATE_VIEWER)
        assert viewer.returncode == 0, viewer.stderr[-3000:]
        yield compose
    finally:
        compose.down()


@pytest.fixture(scope="module")
def browser_image():
    image, _ = client().images.build(path=str(ROOT / "tests" / "console"), tag=BROWSER_IMAGE)
    return image


@pytest.fixture
def browser(stack, browser_image):
    """A WebDriver session in Chromium, in a container on the stack's network."""
    container = client().containers.run(
        browser_image.id,
        detach=True,
        network=stack.network,
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
        driver = connect(f"http://127.0.0.1:{port}", options)
        driver.container = container  # for files to upload, which must be where Chromium is
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        container.remove(force=True)


def connect(url, options, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return webdriver.Remote(url, options=options)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def log_in(driver, username):
    driver.get(f"{WEB}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "Site administration" in d.title)


def screenshot(driver, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / name))


def progress_value(driver, url, above=0, timeout=180):
    """The value of the first progress bar on ``url``, once one shows a value over ``above``
    (the page reloads until then: a busy machine may take a while to start the run)."""

    def bar(d):
        d.get(url)
        found = d.find_elements(By.TAG_NAME, "progress")
        value = found and int(found[0].get_attribute("value") or 0)
        return value if value and value > above else False

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(bar)


def run_row(driver, run_id):
    return driver.find_element(By.CSS_SELECTOR, f'#runs tr[data-run="{run_id}"]')


class Background:
    """A ``docker compose run`` in the background, its stderr read as it comes."""

    def __init__(self, stack, *args):
        self.process = stack.popen(*args)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append(line)

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines)[-3000:]
            assert time.monotonic() < deadline, f"{text!r} never came"
            time.sleep(0.1)

    def finish(self, timeout=120):
        self.process.wait(timeout=timeout)
        self.reader.join(timeout=5)
        return self.process.returncode, "".join(self.lines)


def test_an_operator_watches_a_run_advance_and_stops_it(stack, browser):
    seeded = stack("run", "--rm", "-T", "job", "seed_demo_data", "--users", "20000")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    for _ in range(3):  # earlier runs, for the job page's chart
        dry = stack("run", "--rm", "-T", "job", "normalize_emails", "--dry-run")
        assert dry.returncode == 0, dry.stderr[-3000:]
    walk = Background(
        stack, "run", "--rm", "-T", "-e", "JOB_PROGRESS_INTERVAL=1", "job",
        "normalize_emails", "--batch-size", "200", "--throttle", "0.25",
    )  # fmt: skip
    walk.wait_for('"event": "start"')
    run_id = re.search(r'"event": "start".*?"run_id": (\d+)', "".join(walk.lines)).group(1)

    log_in(browser, "admin")
    runs = f"{WEB}/admin/batch_jobs/jobrun/?job=normalize_emails&status__exact=running"
    first = progress_value(browser, runs)
    assert progress_value(browser, runs, above=first) > first  # the bar moves as the run works
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result_list .status-running")) == 1
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/")
    screenshot(browser, "console-runs.png")
    browser.get(runs)

    browser.find_element(By.LINK_TEXT, "normalize_emails").click()
    WebDriverWait(browser, 10).until(lambda d: "Job normalize_emails" in d.title)
    assert browser.find_elements(By.CSS_SELECTOR, "svg.job-chart rect")  # the earlier runs
    screenshot(browser, "console-job.png")
    job_page = browser.current_url
    run_row(browser, run_id).find_element(By.CSS_SELECTOR, '[data-action="stop"]').click()
    # The form posts, and the job's page comes back with the message: wait for that page.
    message = (
        WebDriverWait(browser, 20)
        .until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist"))[0]
        .text
    )
    assert f"Asked run {run_id} (normalize_emails on " in message

    def ended(d):
        d.get(job_page)
        row = run_row(d, run_id)
        return row.find_element(By.CSS_SELECTOR, ".status").text != "running" and row

    row = WebDriverWait(browser, 60, poll_frequency=1).until(ended)
    status = row.find_element(By.CSS_SELECTOR, ".status").text
    exit_code = row.find_element(By.CSS_SELECTOR, ".exit-code").text
    assert (status, exit_code) == ("stopped", "3")
    assert row.find_element(By.CSS_SELECTOR, ".error").text == "stopped by admin"
    assert row.find_elements(By.CSS_SELECTOR, '[data-action="retry"]')
    screenshot(browser, "console-stopped.png")

    code, stderr = walk.finish()
    assert code == 3, stderr[-3000:]
    assert stderr.splitlines()[-1] == "CommandError: stopped by admin"


def put_file(driver, path, content):
    """Write ``content`` at ``path`` in the browser's container, for a file input to upload."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo(path.rsplit("/", 1)[1])
        info.size, info.mode = len(content), 0o644
        tar.addfile(info, io.BytesIO(content))
    assert driver.container.put_archive(path.rsplit("/", 1)[0], data.getvalue())
    return path


def run_form(driver, job, values=(), dry_run=True, upload=None):
    """Open ``job``'s page, fill its Run form and submit it; the request's id, from the message."""
    driver.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/{job}/")
    form = driver.find_element(By.ID, "run-form")
    box = form.find_element(By.NAME, "dry_run")
    assert box.is_selected(), "--dry-run is on by default"
    if not dry_run:
        box.click()
    for name, value in dict(values).items():
        form.find_element(By.NAME, name).send_keys(value)
    if upload:
        form.find_element(By.NAME, upload[0]).send_keys(upload[1])
    return form


def submit(driver, form):
    form.find_element(By.CSS_SELECTOR, '[data-action="run"]').click()
    message = (
        WebDriverWait(driver, 20)
        .until(lambda d: d.find_elements(By.CSS_SELECTOR, ".messagelist"))[0]
        .text
    )
    return int(re.search(r"Run requested: request (\d+)", message).group(1))


def handled(driver, job, request_id, timeout=90):
    """The request's row on the job page once the worker has run it: (run id, exit code)."""

    def done(d):
        d.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/{job}/")
        cells = d.find_elements(By.CSS_SELECTOR, f"#request-{request_id} td")
        texts = [c.text for c in cells]
        return texts and texts[-1] != "-" and texts

    texts = WebDriverWait(driver, timeout, poll_frequency=0.5).until(done)
    return int(texts[3]), int(texts[-1])


def test_an_operator_starts_runs_from_the_form_and_sees_their_progress_and_output(stack, browser):
    seeded = stack("run", "--rm", "-T", "job", "seed_demo_data", "--users", "20000")
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    log_in(browser, "admin")

    # A dry run with parameters: the worker picks it up; its page shows progress and output.
    form = run_form(
        browser, "normalize_emails", {"batch_size": "1000", "throttle": "0.25", "strategy": "set"}
    )
    screenshot(browser, "console-run-form.png")
    request_id = submit(browser, form)
    row = f"#request-{request_id}"

    def started(d):
        d.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/normalize_emails/")
        links = d.find_elements(By.CSS_SELECTOR, f"{row} td a")
        return links and links[0].get_attribute("href")

    browser.get(WebDriverWait(browser, 60, poll_frequency=0.5).until(started))

    def live(d):
        d.refresh()
        bars = d.find_elements(By.CSS_SELECTOR, ".field-progress_bar progress")
        lines = d.find_elements(By.CSS_SELECTOR, ".run-output pre span")
        return bars and int(bars[0].get_attribute("value") or 0) > 0 and lines

    lines = WebDriverWait(browser, 60, poll_frequency=0.5).until(live)
    assert any('"event": "start"' in line.text for line in lines), [x.text for x in lines]
    bar = browser.find_element(By.CSS_SELECTOR, ".field-progress_bar")
    browser.execute_script("arguments[0].scrollIntoView()", bar)  # the bar, then the output
    screenshot(browser, "console-run-output.png")
    run_id, code = handled(browser, "normalize_emails", request_id)
    assert code == 0
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/{run_id}/change/")
    output = browser.find_element(By.CSS_SELECTOR, ".run-output").text
    assert re.search(r"checked \d+ / changed \d+ \(dry\)", output), output  # its summary

    # Then a real run.
    request_id = submit(browser, run_form(browser, "normalize_emails", dry_run=False))
    run_id, code = handled(browser, "normalize_emails", request_id)
    assert code == 0
    run = run_row(browser, run_id)
    assert run.find_element(By.CSS_SELECTOR, ".status").text == "succeeded"

    # import_orders with uploaded CSVs: a good one is imported, a bad one ends 65 with its
    # line numbers on the page.
    good = put_file(
        browser, "/tmp/good.csv", b"external_id,amount,created_at\nB-1,5.00,2026-01-01T00:00Z\n"
    )
    form = run_form(browser, "import_orders", dry_run=False, upload=("path", good))
    run_id, code = handled(browser, "import_orders", submit(browser, form))
    assert code == 0
    bad = put_file(
        browser,
        "/tmp/bad.csv",
        b"external_id,amount,created_at\nB-2,ten,2026-01-01T00:00Z\nB-3,1.00,yesterday\n",
    )
    form = run_form(browser, "import_orders", dry_run=False, upload=("path", bad))
    run_id, code = handled(browser, "import_orders", submit(browser, form))
    assert code == 65
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/{run_id}/change/")
    error = browser.find_element(By.CSS_SELECTOR, ".field-error_text .readonly").text
    assert (
        "nothing imported: line 2: amount 'ten' is not a number; "
        "line 3: created_at 'yesterday' is not an ISO 8601 time"
    ) in error, error
    screenshot(browser, "console-import-65.png")


def test_a_user_without_the_permission_sees_no_buttons_and_a_forged_post_gets_403(stack, browser):
    log_in(browser, VIEWER)
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/normalize_emails/")
    assert "Job normalize_emails" in browser.title
    assert browser.find_elements(By.CSS_SELECTOR, "form.console-action") == []
    # A forged form with the page's own valid CSRF token (the logout form's): only the
    # permission stands in the way.
    browser.execute_script(
        """
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/admin/batch_jobs/jobrun/jobs/normalize_emails/pause/";
        const token = document.querySelector("[name=csrfmiddlewaretoken]").cloneNode();
        form.appendChild(token);
        document.body.appendChild(form);
        form.submit();
        """
    )
    WebDriverWait(browser, 10).until(lambda d: "403" in d.page_source)
    assert "403 Forbidden" in browser.page_source
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/normalize_emails/")
    assert browser.find_element(By.ID, "paused").text.startswith("no")
    # No Run form, and a forged one gets 403 too.
    assert browser.find_elements(By.ID, "run-form") == []
    browser.execute_script(
        """
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/admin/batch_jobs/jobrun/jobs/normalize_emails/run/";
        form.appendChild(document.querySelector("[name=csrfmiddlewaretoken]").cloneNode());
        const box = document.createElement("input");
        box.name = "dry_run";
        box.value = "on";
        form.appendChild(box);
        document.body.appendChild(form);
        form.submit();
        """
    )
    WebDriverWait(browser, 10).until(lambda d: "403" in d.page_source)
    assert "403 Forbidden" in browser.page_source

    # The pending migration gates, through the jobs page's link: viewing is enough. The
    # stack's database is migrated, so no gate is pending and the page says so.
    browser.get(f"{WEB}/admin/batch_jobs/jobrun/jobs/")
    browser.find_element(By.LINK_TEXT, "Pending migration gates").click()
    WebDriverWait(browser, 10).until(lambda d: "Pending migration gates" in d.title)
    rows = browser.find_elements(By.CSS_SELECTOR, "#gates tbody tr")
    assert [row.text for row in rows] == ["No pending migration waits on a backfill."]
    screenshot(browser, "console-gates.png")


def test_the_web_service_listens_on_127_0_0_1_only(stack):
    published = stack("port", "web", "8000").stdout.strip()
    assert re.fullmatch(r"127\.0\.0\.1:\d+", published), published
    container = docker.from_env().containers.get(stack("ps", "-q", "web").stdout.strip())
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
