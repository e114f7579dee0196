"""The job framework: ``JobCommand``, the ``job`` runner, run records and the project's jobs."""
