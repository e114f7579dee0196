"""The batch-job framework: ``JobCommand`` and the machinery it runs every job with.

Import ``JobCommand`` from here in a command module (``from jobs.framework import JobCommand``);
the submodules are its parts: database wait and error mapping, overlap lock, run records,
graceful stop, logs, progress and monitor pings.
"""

__all__ = ["JobCommand", "JobStopped"]


def __getattr__(name):
    # Lazy, because settings.LOGGING imports jobs.framework.logs before the app registry is
    # ready, and JobCommand needs the models.
    if name == "JobCommand":
        from jobs.framework.command import JobCommand

        return JobCommand
    if name == "JobStopped":
        from jobs.framework.stop import JobStopped

        return JobStopped
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
