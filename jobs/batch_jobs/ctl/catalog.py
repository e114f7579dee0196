"""The catalog of jobs ``jobctl`` knows: every ``JobCommand`` the runner may run."""

import dataclasses

from django.core.management import load_command_class

from batch_jobs.framework.command import JobCommand
from batch_jobs.runner.allowlist import did_you_mean, first_line, runnable_commands


class UnknownJob(Exception):
    """A job name that is not in the catalog."""


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    command: JobCommand

    @property
    def help(self):
        return first_line(self.command)

    @property
    def schedule(self):
        return self.command._batch_job.schedule

    @property
    def timezone(self):
        return self.command._batch_job.schedule_timezone

    @property
    def scheduled_args(self):
        """The arguments of a scheduled run: its own, then ``--max-runtime``."""
        args = list(self.command._batch_job.schedule_args)
        if self.command._batch_job.max_runtime:
            args += ["--max-runtime", str(self.command._batch_job.max_runtime)]
        return args


def jobs():
    """Every job, sorted by name."""
    found = []
    for name, app in sorted(runnable_commands().items()):
        command = load_command_class(app, name)
        if isinstance(command, JobCommand):
            found.append(Job(name, command))
    return found


def scheduled_jobs():
    return [job for job in jobs() if job.schedule]


def get(name):
    by_name = {job.name: job for job in jobs()}
    if name in by_name:
        return by_name[name]
    raise UnknownJob(f"unknown job {name!r}{did_you_mean(name, by_name)}")
