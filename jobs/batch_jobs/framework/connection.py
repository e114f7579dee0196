"""The control connection: where the overlap lock is held and the run records are written.

It is apart from the job's own connection, so that a record commits whatever the job's
transactions do, progress is visible while a batch is open, and the lock lives on an idle
session that the server frees the moment the connection goes, even when the job's own backend
is stuck in a statement. Which one:

* ``JOB_CONTROL_DATABASE``, an alias of ``DATABASES``, when the project sets it (a direct
  connection to PostgreSQL when "default" goes through a transaction-mode pooler);
* else a second connection to the default database, which the framework opens itself and
  closes when the outermost run ends;
* the default connection itself when the caller holds a transaction open on it (a
  ``django.test.TestCase``, or ``call_command`` inside ``transaction.atomic()``): the records
  then join that transaction, and nothing leaks out of a test or waits on it.
"""

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.connection import ConnectionDoesNotExist

from batch_jobs.backends import backend_for
from batch_jobs.conf import setting

#: The framework's own second connection to the default database. Kept out of
#: ``DATABASES``, so that test runners neither create a database for it nor block it.
OWN_ALIAS = "batch_jobs_control"


def control_alias():
    """The alias of the control connection for a run starting now."""
    default = connections[DEFAULT_DB_ALIAS]
    if default.in_atomic_block:
        return DEFAULT_DB_ALIAS
    configured = setting("JOB_CONTROL_DATABASE")
    if configured is not None:
        return configured
    if not backend_for(default).separate_control_connection:
        return DEFAULT_DB_ALIAS  # SQLite's lock is a file; an in-memory database is private
    try:
        connections[OWN_ALIAS]
    except ConnectionDoesNotExist:
        connections[OWN_ALIAS] = type(default)({**default.settings_dict}, OWN_ALIAS)
    return OWN_ALIAS


def close_own():
    """Close the framework's own connection, if it was opened (when the outermost run ends)."""
    try:
        own = connections[OWN_ALIAS]
    except ConnectionDoesNotExist:
        return
    own.close()
