"""A second session on the test database, as another process has, through the driver that
Django uses (psycopg 3, psycopg 2 or mysqlclient): the psycopg 2 lane has no psycopg 3 to
import."""

from django.db import connection as default_connection


class Session:
    """An autocommit connection with psycopg 3's ``execute`` (it returns the cursor) on
    either driver."""

    def __init__(self, raw, vendor="postgresql", database=None):
        self.raw = raw
        self.vendor, self.database = vendor, database  # Django's vendor, the database's name
        if callable(raw.autocommit):  # mysqlclient: a method
            raw.autocommit(True)
        else:
            raw.autocommit = True

    def execute(self, sql, params=None):
        cursor = self.raw.cursor()
        cursor.execute(sql, params)
        return cursor

    @property
    def info(self):
        """The driver's ``ConnectionInfo``: both drivers have one, with ``transaction_status``."""
        return self.raw.info

    def close(self):
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_session(connection=default_connection, driver=None):
    """A new session with ``connection``'s parameters, through ``driver`` (a DB-API module;
    by default the one Django uses)."""
    params = connection.get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold", "server_side_binding"):
        params.pop(name, None)
    return Session(
        (driver or connection.Database).connect(**params),
        connection.vendor,
        connection.settings_dict["NAME"],
    )


def database_url(connection=default_connection):
    """A ``DATABASE_URL`` for a subprocess (``job``, ``jobctl``) to open the database of
    ``connection``: the test database, on PostgreSQL or in the SQLite lane's file."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if db["ENGINE"] == "django.db.backends.mysql":
        return (
            f"mysql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            "?charset=utf8mb4"
        )
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
