"""Every `jobctl` error is one line with a documented code (issue 19): `--by` that does not
fit or is not text (2), an output directory that cannot be written (73), database errors, and
a reader that goes away (141), through the real `jobctl` on the test database."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.models import JobPause, RunRequest
from tests.support.boundary import assert_contract, last_line
from tests.support.reliability import FULL
from tests.support.scripts import run
from tests.support.sessions import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def jobctl(*words, **env):
    return run("jobctl", *words, database_url=database_url(), env=env)


def assert_one_line(result, code, *fragments):
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={code})
    line = last_line(result.stderr)
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return line


@pytest.mark.parametrize(
    ("by", "why"),
    [
        ("x" * 151, "must be 150 characters at most, not 151"),
        (b"ops\xff\xfe", "must be valid UTF-8 text"),
        ("alice\nbob", "must not hold control characters or line breaks"),
        ("alice\x1b[31m", "must not hold control characters"),
        ("alice\u2028bob", "must not hold control characters"),
        ("", "must name who asks"),
        ("  ", "must name who asks"),
    ],
    ids=["too long", "not UTF-8", "a newline", "an escape", "a line separator", "empty", "blank"],
)
@pytest.mark.parametrize("command", ["pause", "resume", "stop"])
def test_jobctl_pause_by_too_long_or_not_utf8_is_2_in_one_line(command, by, why):
    target = "1" if command == "stop" else "cleanup_tokens"
    result = jobctl(command, target, "--by", by)
    assert_one_line(result, 2, "Invalid value for '--by'", why)
    assert not JobPause.objects.exists() and not RunRequest.objects.exists()


def test_a_by_of_150_characters_is_recorded_whole():
    result = jobctl("pause", "cleanup_tokens", "--by", "é" * 150)
    assert result.exit_code == 0, result.stderr
    assert JobPause.objects.get().paused_by == "é" * 150


@settings(
    max_examples=100 if FULL else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    by=st.one_of(
        st.sampled_from(["alice", "ops@host-1", "Zoë Ødegård", "x" * 150]),
        st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200),
        st.text(max_size=200),
        st.binary(min_size=1, max_size=40),
    )
)
def test_any_by_is_recorded_as_given_or_refused_with_2(by, report):
    if isinstance(by, bytes) and (b"\0" in by or by.startswith(b"-")):
        by = by.replace(b"\0", b"x").lstrip(b"-") or b"x"
    if isinstance(by, str):
        by = by.replace("\0", "x")
        if by.startswith("-"):
            by = "x" + by
    JobPause.objects.all().delete()
    result = jobctl("pause", "cleanup_tokens", "--by", by)
    report.add("jobctl --by (hypothesis)", result.exit_code, {0, 2})
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed={0, 2})
    text = os.fsdecode(by) if isinstance(by, bytes) else by
    if result.exit_code == 0:
        assert JobPause.objects.get().paused_by == text
    else:
        assert "Invalid value for '--by'" in result.stderr
        assert not JobPause.objects.exists()


# -- render systemd --output-dir --------------------------------------------------------------


def render_to(directory):
    return run("jobctl", "render", "systemd", "--output-dir", str(directory))


def test_render_systemd_output_dir_on_a_read_only_path_is_73(tmp_path):
    result = render_to("/proc/self/units")  # procfs: no directory may be made there
    assert_one_line(result, 73, "Error: cannot write /proc/self/units/")
    assert len(result.stderr_lines) == 1


def test_render_systemd_output_dir_under_a_file_is_73(tmp_path):
    (tmp_path / "file").write_text("in the way")
    result = render_to(tmp_path / "file" / "units")
    assert_one_line(result, 73, f"cannot write {tmp_path}/file/units/", "Not a directory")
    assert len(result.stderr_lines) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to a read-only directory")
def test_render_systemd_output_dir_not_writable_is_refused(tmp_path):
    (tmp_path / "units").mkdir(mode=0o555)
    result = render_to(tmp_path / "units")
    assert result.exit_code == 73 and len(result.stderr_lines) == 1


def test_render_systemd_output_dir_that_is_a_file_is_73_in_one_line(tmp_path):
    (tmp_path / "units").write_text("in the way")
    result = render_to(tmp_path / "units")
    assert_one_line(result, 73, f"cannot write {tmp_path}/units/")
    assert len(result.stderr_lines) == 1


def test_render_systemd_to_a_missing_directory_makes_it(tmp_path):
    result = render_to(tmp_path / "new" / "units")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in (tmp_path / "new" / "units").iterdir())
    assert written and all(name.endswith((".service", ".timer")) for name in written)
    assert result.stdout.splitlines() == [str(tmp_path / "new" / "units" / n) for n in written]


# -- the database ---------------------------------------------------------------------------


def test_history_on_an_unreachable_database_is_69_in_one_line():
    result = run(
        "jobctl",
        "history",
        database_url="postgres://u:S3cretPass@127.0.0.1:9/none",
        env={"JOB_DB_WAIT_SECONDS": "0"},
    )
    assert_one_line(result, 69, "cannot read the run records")
    assert len(result.stderr_lines) == 1 and "S3cretPass" not in result.stderr


def test_jobctl_whose_reader_goes_away_exits_141_quietly():
    import subprocess

    from tests.support.scripts import BIN, ROOT, environment

    process = subprocess.Popen(
        [str(BIN / "jobctl"), "list"],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader is gone before jobctl writes
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert stderr == ""


# -- backfills --database ---------------------------------------------------------------------


@settings(
    max_examples=100 if FULL else 5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    alias=st.one_of(
        st.sampled_from(["default", "nope", "default\x1b[2J", "x" * 300, "../default", "é"]),
        st.text(max_size=80),
        st.binary(min_size=1, max_size=40),
    )
)
def test_any_database_alias_of_backfills_is_read_or_refused_in_one_line(alias, report):
    if isinstance(alias, bytes):
        alias = alias.replace(b"\0", b"x").lstrip(b"-") or b"x"
    else:
        alias = alias.replace("\0", "x").lstrip("-") or "x"
    result = jobctl("backfills", "--database", alias)
    # 0 or 75 for the one alias there is (whatever the project's gates say), 64 for the rest.
    expected = {0, 75} if alias == "default" else {64}
    report.add("jobctl backfills --database (hypothesis)", result.exit_code, expected)
    assert_contract(result.exit_code, result.stdout, result.stderr, allowed=expected)
    if result.exit_code == 64:
        assert last_line(result.stderr).startswith("Error: no database ")
        assert len(result.stderr.splitlines()) == 1
