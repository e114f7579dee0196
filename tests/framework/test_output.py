"""Output capture: each run's record keeps the last JOB_OUTPUT_LINES lines of its stdout and
stderr, bounded, redacted and printable (``batch_jobs.framework.output``)."""

import pytest

from batch_jobs.framework.output import KEPT_CHARS, LINE_CHARS, Capture
from batch_jobs.models import JobRun
from batch_jobs.testing import run_job

pytestmark = pytest.mark.django_db


def test_a_run_keeps_the_last_lines_of_its_output_and_counts_them_all(settings):
    settings.JOB_OUTPUT_LINES = 5
    result = run_job("print_lines", lines=1000, stderr_every=100)
    assert result.exit_code == 0
    output = JobRun.objects.get(job="print_lines").output
    assert output["total"] == 1010  # 1000 on stdout, 10 on stderr
    assert output["lines"] == [["stdout", f"line {n} {'x' * 20}"] for n in range(995, 1000)]


def test_each_line_is_cut_and_a_secret_printed_is_not_stored(settings):
    settings.JOB_OUTPUT_LINES = 3
    token = "tok-" + "s3cr3t" * 4
    result = run_job("print_lines", lines=1, width=10 * LINE_CHARS, token=token)
    assert result.exit_code == 0
    record = JobRun.objects.get(job="print_lines")
    lines = [line for _, line in record.output["lines"]]
    assert lines[0] == "connecting with token ***"
    assert len(lines[1]) < LINE_CHARS + 40 and lines[1].endswith(f"[truncated, {KEPT_CHARS} chars]")
    assert token not in str(record.output) and "s3cr3t" not in str(record.output)


def test_no_lines_kept_with_zero(settings):
    settings.JOB_OUTPUT_LINES = 0
    assert run_job("print_lines", lines=3).exit_code == 0
    assert JobRun.objects.get(job="print_lines").output == {}


def test_memory_stays_bounded_whatever_is_printed():
    capture = Capture(4)
    for n in range(100_000):
        capture.feed("stdout", f"line {n}\n")
    capture.feed("stderr", "y" * (KEPT_CHARS * 50))  # a line that never ends
    capture.feed("stderr", "z" * (KEPT_CHARS * 50))
    assert len(capture.lines) == 4 and len(capture.open["stderr"]) == KEPT_CHARS
    snapshot = capture.snapshot()
    assert snapshot["total"] == 100_001
    assert [line for _, line in snapshot["lines"][:3]] == ["line 99997", "line 99998", "line 99999"]
    assert snapshot["lines"][3][0] == "stderr" and len(snapshot["lines"][3][1]) < LINE_CHARS + 40


def test_control_characters_and_secret_pairs_are_shown_escaped_and_redacted():
    capture = Capture(10)
    capture.feed("stdout", "\x1b[2J clear\rscreen password=hunter22 \u202e rtl\n")
    ((_stream, line),) = capture.snapshot()["lines"]
    assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
    assert "hunter22" not in line and "password=***" in line
