"""The machinery ``JobCommand`` runs every job with, one concern per module.

``command``      the base class: the helpers ``handle`` calls
``declaration``  the nested ``class Job:`` declarations, resolved once per class
``arguments``    the options every job gets, and argument types
``lifecycle``    one run, start to finish: signals, deadline, wait, lock, record, events
``outcome``      how a run ended: status, exit code, log level and reason, from one table
``walk``         the batch walk: keyset pages, one transaction each, checkpoints
``writes``       the write paths inside a batch (``update_rows``)
``shards``       sharded walks: the plan of key ranges every shard shares
``pacing``       adaptive batch sizes and waits on database health
``progress``     progress bar or events, through a callback
``connection``   the control connection: which alias holds the lock and writes the records
``requests``     operators' requests (stop, pause, retry) as a running job reads them
``monitors``     pings, Prometheus Pushgateway, Sentry
``database``, ``lock``, ``runs``, ``stop``, ``watchdog``, ``errors``, ``logs``, ``redact``,
``schedule``: the parts those use. What differs per database is in ``batch_jobs.backends``.

The framework never imports ``batch_jobs.operations``, ``batch_jobs.cli`` or
``batch_jobs.console``. Job authors import from the package itself
(``from batch_jobs import JobCommand``).
"""
