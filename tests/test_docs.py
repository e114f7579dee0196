"""The documentation site: it builds with warnings as errors, and every code example in it
(and in README.md) runs, or names the test that runs it, or says why it cannot run here.

Each fenced block is preceded by at most one marker, an HTML comment on the line before it:

- ``<!-- not-run: REASON -->``: it cannot run in the test suite (a cluster, systemd, the
  compose stack's fixed project name), and REASON says why;
- ``<!-- run-by: tests/PATH -->``: that test module runs it, and reads the page it is on;
- no marker: this module runs it. Shell blocks run as one script with ``job`` and ``jobctl``
  against the example project's settings on a migrated SQLite database; Python blocks run as
  a job module; JSON blocks parse, and the monitor configuration is the framework's own.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCS = ROOT / "docs"
PAGES = [*sorted(p for p in DOCS.rglob("*.md") if not p.is_symlink()), ROOT / "README.md"]
MARKER = re.compile(r"<!-- (not-run|run-by|run): ?(.*?) -->")
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", flags=re.M | re.S)


def name(page):
    return str(page.relative_to(ROOT))


def blocks(page):
    """(language, body, marker kind, marker text) of every fenced block of ``page``."""
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        indent, language, body = match.groups()
        body = re.sub(rf"^{indent}", "", body, flags=re.M)
        before = text[: match.start()].rstrip("\n").rpartition("\n")[2].strip()
        marker = MARKER.fullmatch(before)
        kind, reason = marker.groups() if marker else (None, None)
        found.append((language, body, kind, reason))
    return found


EXAMPLES = [
    pytest.param(page, i, *block, id=f"{name(page)}-{i}")
    for page in PAGES
    for i, block in enumerate(blocks(page))
]


def examples(language):
    return [e for e in EXAMPLES if e.values[2] == language and e.values[4] in (None, "run")]


def test_the_docs_build_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [BIN / "mkdocs", "build", "--strict", "--site-dir", tmp_path / "site"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "reference" / "exit-codes" / "index.html").exists()


def test_every_page_is_in_the_navigation():
    import yaml

    def paths(nav):
        for item in nav:
            for value in item.values():
                yield from paths(value) if isinstance(value, list) else [value]

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert set(paths(config["nav"])) == {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}


@pytest.mark.parametrize(("page", "index", "language", "body", "kind", "reason"), EXAMPLES)
def test_every_example_is_run_or_says_why_not(page, index, language, body, kind, reason):
    if kind == "not-run":
        assert len(reason.split()) >= 4, f"say why it cannot run: {reason!r}"
    elif kind == "run-by":
        test = ROOT / reason
        assert test.is_file(), f"{reason} does not exist"
        source = test.read_text()
        assert name(page) in source or str(page.relative_to(DOCS)) in source, (
            f"{reason} does not read {name(page)}"
        )
    else:
        assert language in ("sh", "python", "json"), (
            f"a {language or 'plain'} block that this module does not run needs a marker"
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The example project's settings on a migrated SQLite database, outside the repository."""
    work = tmp_path_factory.mktemp("docs-examples")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "app.settings",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "JOB_LOG_FORMAT": "json",
    }
    for name_ in ("DJANGO_EXTRA_APPS", "JOB_CONTROL_DATABASE_URL"):
        env.pop(name_, None)
    migrated = subprocess.run(
        ["job", "migrate", "-v0"], cwd=work, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    return work, env


@pytest.mark.parametrize(("page", "index", "language", "body", "kind", "reason"), examples("sh"))
def test_shell_examples_run(project, page, index, language, body, kind, reason):
    work, env = project
    result = subprocess.run(
        ["bash", "-c", "set -Eeuo pipefail\n" + body],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("page", "index", "language", "body", "kind", "reason"), examples("python")
)
def test_python_examples_load_as_jobs(page, index, language, body, kind, reason):
    from batch_jobs import JobCommand

    stem = re.sub(r"\W", "_", f"{page.stem}_{index}")
    namespace = {"__name__": f"docs.management.commands.{stem}"}
    exec(compile(body, name(page), "exec"), namespace)
    command = namespace.get("Command")
    if command is not None:
        assert issubclass(command, JobCommand)
        assert command._batch_job is not None


def test_the_schedule_example_declares_what_it_says():
    page = DOCS / "tutorial" / "schedule.md"
    ((_, body, _, _),) = [b for b in blocks(page) if b[0] == "python"]
    namespace = {"__name__": "docs.management.commands.scheduled_example"}
    exec(compile(body, name(page), "exec"), namespace)
    declared = namespace["Command"]._batch_job
    assert (declared.schedule, declared.schedule_timezone) == ("30 2 * * *", "Europe/Berlin")
    assert (declared.max_runtime, declared.retries, declared.stop_grace_seconds) == (3600, 2, 60)


def test_the_monitor_configuration_is_the_nightly_jobs():
    from django.core.management import load_command_class

    from batch_jobs.framework.monitors import SentryCrons

    page = DOCS / "how-to" / "monitoring.md"
    ((_, body, _, _),) = [b for b in blocks(page) if b[0] == "json"]
    nightly = load_command_class("app.store", "nightly")
    assert json.loads(body) == SentryCrons(nightly, run_id=None).monitor_config()


def test_the_job_usage_summary_is_the_runners(project):
    work, env = project
    page = DOCS / "reference" / "job.md"
    ((_, body, _, _),) = [b for b in blocks(page) if b[0] == "text"]
    forms = [re.split(r"\s{2,}", line)[0] for line in body.splitlines()]
    usage = subprocess.run(["job", "--help"], cwd=work, env=env, capture_output=True, text=True)
    assert usage.returncode == 0
    for form in forms[:-1]:
        assert form in usage.stdout, form
    assert forms[-1] == "job"
    bare = subprocess.run(["job"], cwd=work, env=env, capture_output=True, text=True)
    assert (bare.returncode, bare.stdout) == (64, "")
    assert "usage: job" in bare.stderr


def test_the_layout_lists_every_module():
    page = (DOCS / "explanation" / "layout.md").read_text()
    listed = set(re.findall(r"^\| `([\w/.]+)` \|", page, flags=re.M))
    package = ROOT / "jobs" / "batch_jobs"
    modules = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "migrations" not in p.parts and (p.name != "__init__.py" or p.read_text().strip())
    }
    assert modules - listed == set(), "modules missing from docs/explanation/layout.md"
    stale = {m for m in listed if not (package / m).exists()}
    assert stale == set(), "modules in docs/explanation/layout.md that are gone"


def test_the_readmes_links_lead_somewhere():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)
    assert targets, "README.md links into the docs"
    assert [t for t in targets if not (ROOT / t).exists()] == []
