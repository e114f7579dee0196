"""``jobctl output RUN``: the last lines a run printed, from its record."""

import pytest
from click.testing import CliRunner
from django.core.management import CommandError, call_command

from batch_jobs.cli.jobctl import cli
from batch_jobs.models import JobRun

pytestmark = pytest.mark.django_db


def jobctl(*args):
    return CliRunner().invoke(cli, list(args), prog_name="jobctl")


def record(lines, total, status="succeeded"):
    return JobRun.objects.create(
        job="print_lines", status=status, output={"lines": lines, "total": total}
    )


def test_output_prints_stdout_and_stderr_and_says_what_was_not_kept():
    run = record([["stdout", "line 8"], ["stderr", "note 9"], ["stdout", "line 9"]], 12)
    result = jobctl("output", str(run.pk))
    assert result.exit_code == 0
    assert result.stdout == "line 8\nline 9\n"
    assert result.stderr == "… 9 earlier line(s) not kept (JOB_OUTPUT_LINES)\nnote 9\n"
    only = jobctl("output", str(run.pk), "--stream", "stdout")
    assert (only.stdout, only.stderr) == (
        "line 8\nline 9\n",
        "… 9 earlier line(s) not kept (JOB_OUTPUT_LINES)\n",
    )


def test_output_prints_a_recorded_line_printable_whatever_the_record_holds():
    """The record's lines were escaped when saved; a row written otherwise (by hand, an older
    version) still cannot reach the terminal with an escape or fake a line."""
    run = record([["stdout", "\x1b]0;owned\x07 clear\nfake line"]], 1)
    printed = jobctl("output", str(run.pk)).stdout
    assert "\x1b" not in printed and "\x07" not in printed
    assert printed.count("\n") == 1 and "clear" in printed


def test_output_of_a_run_that_printed_nothing_or_of_no_run():
    assert jobctl("output", str(record([], 0).pk)).output == ""
    missing = jobctl("output", "999999")
    assert missing.exit_code == 64 and "no run 999999" in missing.stderr


def test_follow_prints_only_new_lines_until_the_run_ends(monkeypatch):
    run = record([["stdout", "a"]], 1, status="running")
    seen = []

    def later(seconds):  # the next look: two more lines, and the run ends
        seen.append(seconds)
        JobRun.objects.filter(pk=run.pk).update(
            status="succeeded",
            output={"lines": [["stdout", "a"], ["stdout", "b"], ["stdout", "c"]], "total": 3},
        )

    monkeypatch.setattr("batch_jobs.cli.jobctl.worker.time.sleep", later)
    result = jobctl("output", str(run.pk), "--follow")
    assert (result.exit_code, result.stdout, seen) == (0, "a\nb\nc\n", [1.0])


def test_a_failed_runs_error_ends_its_output_on_stderr_redacted_and_escaped():
    # The record is finished before the job logs its end and `job` prints the error, so the
    # lines kept stop short of why it failed: jobctl output says it from the record.
    message = "cannot read orders.csv\x1b[31m password=hunter2hunter2"
    with pytest.raises(CommandError):
        call_command("fail_with", "65", "--message", message)
    run = JobRun.objects.filter(job="fail_with").latest("pk")
    assert (run.status, run.exit_code) == ("failed", 65)
    result = jobctl("output", str(run.pk))
    assert result.exit_code == 0
    *_, last = result.stderr.splitlines()
    assert last.startswith("error: cannot read orders.csv\\x1b[31m password=")
    assert "hunter2hunter2" not in result.stderr and "\x1b" not in result.stderr
    assert jobctl("output", str(run.pk), "--stream", "stdout").output == ""
    assert "error:" not in jobctl("output", str(record([["stdout", "ok"]], 1).pk)).output
