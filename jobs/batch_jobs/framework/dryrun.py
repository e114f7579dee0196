"""A dry run the job's code does not honour writes nothing.

The framework gives a job ``--dry-run``; only the job's code can make it dry. A converted
command that never reads ``self.dry_run`` would do its real work under ``--dry-run``. So in a
dry run of the framework's ``--dry-run``, until the job reads ``self.dry_run``, a statement
that would change the database is refused before it runs: the run fails (78) with one line
saying so, and nothing is written. What stays allowed: the framework's own tables (the run
record), and in a walk's batch (rolled back in a dry run) what its transaction rolls back:
the walk's own database, and there no statement that commits by itself (on MariaDB and
MySQL, DDL on a table that is not temporary and ``TRUNCATE`` commit the transaction). A
command that defines ``--dry-run`` itself is trusted with it. The guard watches the
connections of the job's thread; a thread the job starts has its own.
"""

import contextlib
import contextvars
import re

from django.core.management.base import CommandError
from django.db import connections

from batch_jobs.exitcodes import ExitCode

#: The alias of the database whose transaction a dry run's batch rolls back, while it runs.
_rolled_back = contextvars.ContextVar("batch_jobs_dry_run_rolled_back", default=None)

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
# Statements a rollback does not undo everywhere: DDL on a table that is not temporary, and
# TRUNCATE (MariaDB and MySQL commit the transaction before them).
_SELF_COMMITTING = frozenset({"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "GRANT", "REVOKE"})
_TEMPORARY = re.compile(r"^(?:CREATE|DROP)\s+(?:GLOBAL\s+|LOCAL\s+)?TEMP(?:ORARY)?\b", re.I)
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


def _statement(sql):
    """``sql`` from its first word, comments and opening parentheses left out."""
    return sql[_LEADING.match(sql).end() :]


def rolls_back(sql):
    """Whether a transaction's rollback undoes ``sql`` on a database that cannot roll DDL
    back (MariaDB, MySQL: ``connection.features.can_rollback_ddl``)."""
    text = _statement(sql)
    word = _WORD.match(text)
    return not (word and word.group().upper() in _SELF_COMMITTING and not _TEMPORARY.match(text))


def writes(sql):
    """What ``sql`` writes (``'UPDATE "store_customer"'``, for the one line), or ``None``
    when it only reads, or only touches the framework's own tables."""
    text = _statement(sql)
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
        if not run.dry_run_checked and isinstance(sql, str):
            statement = writes(sql)
            connection = context["connection"]
            in_batch = _rolled_back.get() == connection.alias and (
                connection.features.can_rollback_ddl or rolls_back(sql)
            )
            if statement is not None and not in_batch:
                raise DryRunWrite(run.job, statement)
        return execute(sql, params, many, context)

    with contextlib.ExitStack() as stack:
        for connection in connections.all():
            stack.enter_context(connection.execute_wrapper(guard))
        yield


@contextlib.contextmanager
def rolled_back(alias):
    """A walk's batch in a dry run: its transaction on ``alias`` is rolled back, so it may
    write there what a rollback undoes."""
    token = _rolled_back.set(alias)
    try:
        yield
    finally:
        _rolled_back.reset(token)
