"""A Django database backend of another vendor, for the tests of what such a database gets:
SQLite underneath, reporting a vendor the framework has no module for (as MariaDB, Oracle or
a third-party backend would)."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper


class DatabaseWrapper(SQLiteDatabaseWrapper):
    vendor = "otherdb"
    display_name = "OtherDB"
