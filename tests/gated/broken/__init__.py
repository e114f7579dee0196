"""The gated app's migrations with a gate that names no job of the project: what
``manage.py check`` flags (``batch_jobs.E102``), and what ``jobctl backfills`` and the console
must report in one line rather than fail on."""
