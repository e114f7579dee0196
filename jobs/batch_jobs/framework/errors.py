"""Reading errors: one-line messages, and what a database error says (retry, or a remedy).

Which exit code and status each error ends a run with is ``outcome.ENDINGS``.
"""

from django.db import InterfaceError, OperationalError

from batch_jobs.backends import backend_for, backends_in_use
from batch_jobs.backends.base import MISSING_TABLE, NO_PRIVILEGE, READ_ONLY


def one_line(text):
    """``text`` folded onto one line, as every error message of the contract is."""
    return " ".join(str(text).split())


def first_line(error):
    """The first line of a database error (PostgreSQL adds LINE and HINT lines), folded."""
    text = str(error).strip()
    return one_line(text.splitlines()[0] if text else error)


def is_transient(exc):
    """Whether ``exc`` is a database error that says "try again later" (a lost connection, a
    serialization failure, a deadlock, a lock or statement timeout), as the backends of the
    connections in use tell: Django wraps the driver's errors in its own classes."""
    in_use = backends_in_use()
    transient = {OperationalError, InterfaceError}
    for backend in in_use:
        transient.update(backend.transient_errors())
    if not isinstance(exc, tuple(transient)):
        return False
    return not any(backend.is_permanent(exc) for backend in in_use)


MIGRATE = "apply the migrations: `python manage.py migrate` (or `job migrate`)"


def database_remedy(error, tables="the tables the job uses", connection=None):
    """What to do when ``error`` says a table is missing, or the database cannot be written
    at all, else None: a configuration or deployment error, which retrying cannot fix. The
    backend of ``connection``, else those of the connections in use, tell which it is
    (``DatabaseBackend.unusable``)."""
    backends = [backend_for(connection)] if connection is not None else backends_in_use()
    found = next((kind for b in backends if (kind := b.unusable(error))), None)
    if found == MISSING_TABLE:
        return MIGRATE
    if found == READ_ONLY:
        return (
            "the database is read-only here: run jobs against a writable one that `python "
            "manage.py migrate` has set up (the primary; a SQLite file and folder this user "
            "may write)"
        )
    if found == NO_PRIVILEGE:
        return (
            f"grant this database user SELECT, INSERT and UPDATE on {tables}, or run "
            "`python manage.py migrate` as their owner"
        )
    return None
