"""Secrets stay out of logs and run records."""

from batch_jobs.framework.redact import masked_url, redact_argv, redact_options


def test_secret_looking_options_are_redacted_and_counts_are_not():
    options = {
        "password": "hunter2",
        "api_key": "k",
        "db_token": "t",
        "tokens": 100,
        "days": 3,
        "verbosity": 1,
        "url": "postgres://u:pw@h/db",
    }
    assert redact_options(options) == {
        "password": "***",
        "api_key": "***",
        "db_token": "***",
        "tokens": 100,
        "days": 3,
        "url": "postgres://u:***@h/db",
    }


def test_argv_redaction_covers_both_spellings():
    argv = ["--token", "abc", "--secret=xyz", "--tokens", "5", "postgres://a:b@c/d"]
    assert redact_argv(argv) == [
        "--token",
        "***",
        "--secret=***",
        "--tokens",
        "5",
        "postgres://a:***@c/d",
    ]


def test_masked_url_hides_any_password():
    assert masked_url("postgres://u:p@ss:w@host:5432/db") == "postgres://u:***@host:5432/db"
    assert masked_url("u:secret@host") == "u:***@host"
    assert masked_url("postgres://host:5432/db") == "postgres://host:5432/db"
