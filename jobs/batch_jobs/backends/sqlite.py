"""SQLite, the local default: the generic fallbacks, on one machine by nature."""

import os

from batch_jobs.backends import base


class DatabaseBackend(base.DatabaseBackend):
    degraded = ()  # what SQLite lacks is what one machine does not need; the README says it

    def is_permanent(self, exc):
        """SQLite reports SQL errors as OperationalError too; only "locked"/"busy" is
        transient."""
        cause = exc.__cause__
        return (
            isinstance(cause, self.connection.Database.OperationalError)
            and "locked" not in str(cause)
            and "busy" not in str(cause)
        )

    def unusable(self, exc):
        """SQLite has no codes for these: its messages tell."""
        text = str(exc.__cause__ or exc)
        if text.startswith("no such table"):
            return base.MISSING_TABLE
        if "readonly database" in text:
            return base.READ_ONLY
        return None

    def database_identity(self):
        """The database file's real path (two routes to one file are one database); an in-memory
        database is this process's own."""
        if self.connection.is_in_memory_db():
            return f"sqlite:memory:{os.getpid()}"
        return f"sqlite:{os.path.realpath(self.connection.settings_dict['NAME'])}"

    def cancel(self):
        """sqlite3 runs a statement in C with the GIL released: ``interrupt()`` ends it."""
        raw = self.connection.connection
        if raw is not None:
            raw.interrupt()

    def was_cancelled(self, exc):
        return "interrupted" in str(exc.__cause__ or exc)
