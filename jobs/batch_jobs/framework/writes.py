"""The write paths that fit inside a batch's ``process(batch)``.

* set-based: ``batch.queryset.filter(...).update(field=<expression>)``, one ``UPDATE`` per key
  range, for changes SQL can express;
* Python: compute new values per row, then ``update_rows(model, fields, rows)``, one
  ``COPY`` and one ``UPDATE ... FROM`` per batch (not ``bulk_update``'s ``CASE WHEN`` per row).
"""

from django.db import connections, router

from batch_jobs.backends import backend_for


def update_rows(model, fields, rows, key="pk"):
    """Write ``rows`` (tuples ``(key, *values)`` for ``fields``) in one round of statements.

    On PostgreSQL the rows stream with ``COPY`` (through psycopg 3 or psycopg 2) into a
    temporary table of the session, and one ``UPDATE ... FROM`` it applies them: no SQL text
    grows with the batch. Elsewhere, ``bulk_update``. Returns the number of rows updated.
    """
    if not rows:
        return 0
    using = router.db_for_write(model)
    return backend_for(connections[using]).update_rows(model, fields, rows, key, using)
