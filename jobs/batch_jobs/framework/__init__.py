"""The machinery ``JobCommand`` runs every job with, one concern per module.

``command``    the base class: declarations and the helpers ``handle`` calls
``arguments``  the options every job gets, and argument types
``lifecycle``  one run, start to finish: signals, deadline, wait, lock, record, events
``outcome``    how a run ended: status, exit code, log level and reason, from one table
``walk``       the batch walk: keyset pages, one transaction each, checkpoints
``progress``   progress bar or events, through a callback
``database``, ``lock``, ``runs``, ``stop``, ``watchdog``, ``errors``, ``logs``, ``ping``,
``redact``, ``schedule``: the parts those use.

Job authors import from ``jobs`` itself (``from batch_jobs import JobCommand``).
"""
