"""The catalog of jobs ``jobctl`` knows: every ``JobCommand`` the runner may run."""

import dataclasses

from django.core.management import load_command_class

from batch_jobs.framework.command import JobCommand
from batch_jobs.operations.allowlist import did_you_mean, first_line, runnable_commands


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
    def declared(self):
        """The job's ``class Job:`` declarations, resolved (``JobCommand._batch_job``)."""
        return self.command._batch_job

    @property
    def schedule(self):
        return self.declared.schedule

    @property
    def timezone(self):
        return self.declared.schedule_timezone

    @property
    def scheduled_args(self):
        """The arguments of a scheduled run: its own, then ``--max-runtime``: the run's
        default already, spelled out so that the installed line says its limit."""
        args = list(self.declared.schedule_args)
        if self.declared.max_runtime:
            args += ["--max-runtime", str(self.declared.max_runtime)]
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
