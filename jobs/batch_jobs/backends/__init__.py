"""What differs per database, behind one interface: one module per vendor, as Django's own
``django/db/backends/<vendor>/``.

``backend_for(connection)`` returns the connection's backend, chosen once per connection: the
module of its vendor (``postgresql``, ``mysql`` for MariaDB and MySQL, ``sqlite``) or, for
any other Django backend (Oracle, third-party ones), ``base.DatabaseBackend``'s generic
fallbacks, whose ``degraded`` list the system check ``batch_jobs.W002`` shows. A vendor module
is imported only when a connection of that vendor asks for it, and only it imports its driver:
a SQLite project never imports psycopg. Adding a database is adding a module and a line to
``VENDORS``.
"""

import importlib
import weakref

from django.db import connections
from django.utils.connection import ConnectionProxy

from batch_jobs.backends import base

#: Vendor -> module of its backend. Other vendors get ``base.DatabaseBackend``.
VENDORS = {
    "mysql": "batch_jobs.backends.mysql",
    "postgresql": "batch_jobs.backends.postgresql",
    "sqlite": "batch_jobs.backends.sqlite",
}

_CHOSEN = weakref.WeakKeyDictionary()


def backend_class(vendor):
    """The backend class for ``vendor`` (a ``connection.vendor``)."""
    if vendor in VENDORS:
        return importlib.import_module(VENDORS[vendor]).DatabaseBackend
    return base.DatabaseBackend


def backend_for(connection):
    """The backend of ``connection`` (a Django connection wrapper, ``django.db.connection``,
    or an alias), made once per connection."""
    if isinstance(connection, str):
        connection = connections[connection]
    elif isinstance(connection, ConnectionProxy):  # this thread's connection, for good
        connection = connections[connection._alias]
    backend = _CHOSEN.get(connection)
    if backend is None:
        backend = _CHOSEN[connection] = backend_class(connection.vendor)(connection)
    return backend


def first_class(connection):
    """Whether ``connection``'s database has a backend module of its own (else it gets the
    generic fallbacks, and the system check says what degrades)."""
    return type(backend_for(connection)) is not base.DatabaseBackend


def backends_in_use():
    """The backends of the connections this thread has opened or asked for."""
    return [backend_for(c) for c in connections.all(initialized_only=True)]
