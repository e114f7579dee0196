"""A dry run the job's code does not honour writes nothing.

The framework gives a job ``--dry-run``; only the job's code can make it dry. A converted
command that never reads ``self.dry_run`` would do its real work under ``--dry-run``. So in a
dry run of the framework's ``--dry-run``, until the job reads ``self.dry_run``, a statement
that would change the database is refused before it runs: the run fails (78) with one line
saying so, and nothing is written. What stays allowed: the batches of a walk (each is rolled
back in a dry run), and the framework's own tables (the run record). A command that defines
``--dry-run`` itself is trusted with it.
"""

import contextlib
import contextvars
import re

from django.core.management.base import CommandError
from django.db import connections

from batch_jobs.exitcodes import ExitCode

#: Set while a walk's batch runs in a dry run: its transaction is rolled back whatever it did.
_rolled_back = contextvars.ContextVar("batch_jobs_dry_run_rolled_back", default=False)

# A statement's first word, after comments, whitespace and opening parentheses.
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z]+")
#: First words of statements that change data or schema (or run arbitrary code).
WRITES = frozenset(
    {
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE",
        "REPLACE",
        "UPSERT",
        "TRUNCATE",
        "CREATE",
        "ALTER",
        "DROP",
        "RENAME",
        "GRANT",
        "REVOKE",
        "COMMENT",
        "LOAD",
        "COPY",
        "CALL",
        "DO",
        "VACUUM",
        "REINDEX",
        "CLUSTER",
        "REFRESH",
        "IMPORT",
    }
)
# A writable common table expression: WITH x AS (DELETE ...) ..., or WITH ... ) INSERT ...
_WRITING_CTE = re.compile(r"[()]\s*(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
# COPY ... TO reads; COPY ... FROM writes.
_COPY_OUT = re.compile(r"^COPY\b.*\bTO\b", re.IGNORECASE | re.DOTALL)
# The target of a write, for the framework's own tables and the one-line reason.
_TARGET = re.compile(
    r"^(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|REPLACE\s+INTO)\s+([`\"\[]?[\w.]+[`\"\]]?)",
    re.IGNORECASE,
)


class DryRunWrite(CommandError):
    """A write in a dry run whose job never read ``self.dry_run``."""

    def __init__(self, job, statement):
        super().__init__(
            f"dry run refused {statement}: {job} never read self.dry_run, so its --dry-run "
            "cannot be trusted; make its writes depend on self.dry_run, or declare "
            "`class Job: supports_dry_run = False`",
            returncode=int(ExitCode.CONFIG),
        )


def writes(sql):
    """What ``sql`` writes (``'UPDATE "store_customer"'``, for the one line), or ``None``
    when it only reads, or only touches the framework's own tables."""
    text = sql[_LEADING.match(sql).end() :]
    word = _WORD.match(text)
    verb = word.group().upper() if word else ""
    if verb == "WITH":
        if not _WRITING_CTE.search(text):
            return None
    elif verb not in WRITES or (verb == "COPY" and _COPY_OUT.match(text)):
        return None
    target = _TARGET.match(text)
    if target is None:
        return verb
    table = target.group(1).strip('`"[]').rsplit(".", 1)[-1]
    if table.startswith("batch_jobs_"):
        return None
    return f"{verb} {table}"


@contextlib.contextmanager
def guarded(run):
    """For the block (the job's body): refuse writes on every connection of this thread
    until ``run.dry_run_checked``."""

    def guard(execute, sql, params, many, context):
        if not run.dry_run_checked and not _rolled_back.get():
            statement = writes(sql) if isinstance(sql, str) else None
            if statement is not None:
                raise DryRunWrite(run.job, statement)
        return execute(sql, params, many, context)

    with contextlib.ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(guard))
        yield


@contextlib.contextmanager
def rolled_back():
    """A walk's batch in a dry run: its transaction is rolled back, so it may write."""
    token = _rolled_back.set(True)
    try:
        yield
    finally:
        _rolled_back.reset(token)
