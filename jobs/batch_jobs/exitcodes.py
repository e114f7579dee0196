"""The exit-code contract: the one table that cron, Kubernetes and CI read a job's outcome from.

=====  ==========  ============================================================================
code   retry?      meaning
=====  ==========  ============================================================================
0      -           success, a dry run, nothing to do, or skipped (``--skip-if-running``, or
                   the job is paused)
1      budget      unexpected exception (a bug): traceback on stderr; also a
                   ``CommandError`` given no returncode (Django's default), one line
2      no          bad arguments to the job (argparse usage on stderr)
3      no          stopped by an operator (``jobctl stop``), or its job paused, at a batch
                   boundary: the checkpoint is kept for a resume or a retry
64     no          runner misuse: missing, malformed, refused or unknown job; forbidden option
65     no          bad input data detected by the job
69     yes         the database is unreachable after bounded retries
73     -           jobctl only: an output file or directory cannot be created
                   (``jobctl render systemd --output-dir`` on a read-only path)
75     yes         temporary failure: lock held, connection lost, no answer within
                   JOB_DB_TIMEOUT, serialization failure, deadlock, lock or statement
                   timeout, ``--max-runtime`` reached; ``migrate`` stopped at a migration
                   gate whose backfill has not finished
78     no          configuration error: ImproperlyConfigured, missing or conflicting secret,
                   malformed DATABASE_URL, batch_jobs not installed, a table missing
                   (migrations not applied), a database the job may not write
130    yes         stopped by SIGINT after the current batch was committed or rolled back
141    yes         standard output closed: its reader went away (``| head``), as SIGPIPE
                   would end it; what was committed stays committed, the rest rolled back
143    yes         stopped by SIGTERM after the current batch was committed or rolled back
=====  ==========  ============================================================================

The numbers above 2 follow BSD's sysexits.h where one fits, and 128 + signal number for stops,
as shells report them. README.md mirrors this table; a test keeps the two in step.
"""

import enum
import signal


class ExitCode(enum.IntEnum):
    """Every exit status a job run can end with."""

    def __new__(cls, value, retryable, meaning):
        member = int.__new__(cls, value)
        member._value_ = value
        member.retryable = retryable
        member.meaning = meaning
        return member

    OK = 0, None, "success, a dry run, nothing to do, or skipped (--skip-if-running, paused)"
    BUG = 1, None, "unexpected exception (a bug), or a CommandError given no returncode"
    USAGE = 2, False, "bad arguments to the job (argparse usage on stderr)"
    STOPPED = 3, False, "stopped by an operator, or its job paused, at a batch boundary"
    RUNNER_MISUSE = 64, False, "missing, malformed, refused or unknown job name; forbidden option"
    DATA_ERROR = 65, False, "bad input data detected by the job"
    DB_UNAVAILABLE = 69, True, "the database is unreachable after bounded retries"
    CANT_CREATE = 73, None, "jobctl: an output file or directory cannot be created"
    TEMPORARY = (
        75,
        True,
        (
            "temporary failure: another run holds the lock, connection lost, no answer "
            "within JOB_DB_TIMEOUT, serialization failure, deadlock, lock or statement "
            "timeout, --max-runtime reached, migrate at a backfill that has not finished"
        ),
    )
    CONFIG = (
        78,
        False,
        "configuration error: ImproperlyConfigured, missing or conflicting secret, malformed "
        "DATABASE_URL, batch_jobs not installed, a table missing (migrations not applied), a "
        "database the job may not write",
    )
    SIGINT = 128 + signal.SIGINT, True, "stopped by SIGINT at a batch boundary"
    SIGTERM = 128 + signal.SIGTERM, True, "stopped by SIGTERM at a batch boundary"
    # Not a signal here: Python ignores SIGPIPE, and a write to a closed stdout fails with
    # EPIPE; the run then ends with the code a shell gives a process SIGPIPE killed.
    OUTPUT_CLOSED = 128 + signal.SIGPIPE, True, "standard output closed: its reader went away"

    @classmethod
    def for_signal(cls, signum):
        return cls(128 + signum)


#: Codes a scheduler should not retry: the same input and configuration give the same failure.
#: A bug (1) is retried within the retry budget, since it may have met a passing condition.
PERMANENT = frozenset(code for code in ExitCode if code.retryable is False)
