"""Bad input gets one clear line, the documented exit code, and changes nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_jobs.cli import job
from batch_jobs.operations.allowlist import runnable_commands
from tests.support.reliability import FULL

# Names built to hit the edges: shell metacharacters, paths, options, Unicode, length.
NASTY = st.one_of(
    st.text(max_size=300),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=80),
    st.sampled_from(
        [
            "flush",
            "shell",
            "dbshell",
            "sqlflush",
            "loaddata",
            "../manage",
            "--settings=x",
            "$(id)",
            "`id`",
            "a;b",
            "a|b",
            "a&&b",
            "-h",
            "--list",
            "\uff43leanup_tokens",
            "cleanup_tokens\n",
        ]
    ),
)


@settings(
    max_examples=1000 if FULL else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=NASTY)
def test_the_runner_only_ever_runs_allowlisted_commands(name, capsys, report):
    # `--help` makes an allowlisted job print its help and exit 0 without doing any work.
    try:
        code = job.main([name, "--help"])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if name in ("-h", "--help"):
        assert code == 0
    elif code == 0:
        assert name in runnable_commands(), name
        assert out.startswith(f"usage: job {name}")
    else:
        assert code == 64, (name, code, err)
        assert err.count("\n") == 1 and err.startswith("job: error: ")
    report.add("job names (hypothesis)", code, {0, 64})


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_bad_csv_changes_nothing(tmp_path, report):
    from app.store.models import Order
    from batch_jobs.testing import run_job

    path = tmp_path / "orders.csv"
    path.write_text("external_id,amount,created_at\nA,1.00,2026-01-01T00:00:00Z\nB,x,nope\n")
    result = run_job("import_orders", str(path))
    report.add("CSV with bad rows", result.exit_code, {65}, lost=0, doubled=Order.objects.count())
    assert result.exit_code == 65
    assert "line 3: amount 'x' is not a number" in str(result.exception)
    assert Order.objects.count() == 0
