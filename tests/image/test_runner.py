"""The `job` grammar and the exit-code contract, through the real image."""

import json

import pytest

pytestmark = pytest.mark.image


def non_log_lines(stderr):
    """stderr without the JSON log events, i.e. what the runner and Django printed."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


def test_help_prints_usage(job_image):
    result = job_image.run("job", "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith("usage: job <name> [args...]")


def test_job_alone_prints_usage_to_stderr_and_exits_64(job_image):
    result = job_image.run("job")
    assert result.exit_code == 64
    assert result.stdout == ""
    assert result.stderr.startswith("usage: job <name>")


def test_list_shows_runnable_jobs_with_their_help(job_image):
    result = job_image.run("job", "--list", env={"DATABASE_URL": None})
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()}
    assert rows["cleanup_tokens"] == "Delete expired auth tokens."
    assert {"migrate", "check", "showmigrations", "clearsessions", "fail_with"} <= rows.keys()
    assert not {"flush", "shell", "dbshell", "sqlflush", "loaddata"} & rows.keys()


@pytest.mark.parametrize(
    "name", ["Cleanup", "1job", "../manage", "a;id", "a b", "-x-", "ç", "x" * 65, "a$(id)"]
)
def test_malformed_names_exit_64(job_image, name):
    result = job_image.run("job", name)
    assert result.exit_code == 64
    assert non_log_lines(result.stderr) == [result.stderr.strip()]
    assert "invalid job name" in result.stderr


@pytest.mark.parametrize("name", ["flush", "shell", "dbshell", "sqlflush", "loaddata"])
def test_dangerous_commands_are_refused(job_image, name):
    result = job_image.run("job", name)
    assert result.exit_code == 64
    assert f"{name} is not allowlisted" in result.stderr


def test_allowlist_is_configurable_by_environment(job_image):
    result = job_image.run("job", "sqlflush", env={"JOB_ALLOWED_COMMANDS": "sqlflush"})
    assert result.exit_code == 0, result.stderr
    assert "TRUNCATE" in result.stdout


@pytest.mark.parametrize(
    "args",
    [["--settings=os"], ["--settings", "os"], ["--pythonpath", "/tmp"], ["--sett=os"]],
)
def test_settings_and_pythonpath_are_refused(job_image, args):
    result = job_image.run("job", "cleanup_tokens", *args)
    assert result.exit_code == 64
    assert "is not accepted by the job runner" in result.stderr


def test_unknown_job_gets_a_did_you_mean_hint(job_image):
    result = job_image.run("job", "cleanup_token")
    assert result.exit_code == 64
    assert "unknown job 'cleanup_token'; did you mean cleanup_tokens?" in result.stderr


def test_bad_argument_exits_2_with_usage(job_image):
    result = job_image.run("job", "cleanup_tokens", "--days", "many")
    assert result.exit_code == 2
    assert "usage: job cleanup_tokens" in result.stderr
    assert "argument --days: invalid int value: 'many'" in result.stderr


@pytest.mark.parametrize("code", [3, 65, 99])
def test_command_error_returncode_is_the_exit_code(job_image, code):
    result = job_image.run("job", "fail_with", str(code), "--message", "bad row 7")
    assert result.exit_code == code
    assert non_log_lines(result.stderr) == ["CommandError: bad row 7"]
    assert "Traceback" not in result.stderr


def test_unexpected_exception_exits_1_with_traceback(job_image):
    result = job_image.run("job", "crash")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: boom from the crash job" in result.stderr


def test_other_commands_pass_through(job_image):
    result = job_image.run("echo", "hello")
    assert (result.exit_code, result.stdout) == (0, "hello\n")
    result = job_image.run("python", "-c", "import sys; sys.exit(7)")
    assert result.exit_code == 7


def test_arguments_arrive_literally(job_image):
    words = ["$HOME", "*", "a b", '"quoted"', "; rm -rf /", "$(id)", "`id`", "ünï", ""]
    result = job_image.run("job", "echo_args", "--", *words)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == words


def test_cleanup_tokens_dry_run(job_image):
    result = job_image.run("job", "cleanup_tokens", "--dry-run", test_jobs=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[dry-run] 0 candidates for deletion\n"


def test_runs_as_a_numeric_non_root_user(job_image):
    result = job_image.run("id", "-u")
    assert result.stdout.strip() == "10001"


def test_jobctl_is_installed_in_the_image(job_image):
    result = job_image.run("jobctl", "list", test_jobs=False, env={"DATABASE_URL": None})
    assert result.exit_code == 0, result.stderr
    assert "nightly" in result.stdout and "30 2 * * *" in result.stdout
