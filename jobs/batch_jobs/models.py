"""Run records: one row per job run, written outside the job's own transactions."""

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils import timezone

if apps.ready and not apps.is_installed("batch_jobs"):
    # A job imported in a project that has not added the framework: say so, not
    # "Model class ... isn't in an application in INSTALLED_APPS".
    raise ImproperlyConfigured(
        'django-batch-jobs is not installed in this project: add "batch_jobs" to '
        "INSTALLED_APPS, then run `python manage.py migrate`"
    )


class JobRun(models.Model):
    """One run of a job: who ran what, how it ended, and what it did.

    Written at start and at finish on the job-control connection in autocommit, so a run whose
    work was rolled back still leaves its record. A run that died without finishing (SIGKILL,
    OOM) stays ``running`` until the next run that takes the same lock marks it ``abandoned``.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        INTERRUPTED = "interrupted"  # a planned stop: a signal or --max-runtime
        STOPPED = "stopped"  # an operator stopped it, or paused its job (exit 3)
        BLOCKED = "blocked"  # another run held the lock (exit 75)
        SKIPPED = "skipped"  # another run held the lock, and --skip-if-running (exit 0)
        ABANDONED = "abandoned"

    job = models.CharField(max_length=64)
    arguments = models.JSONField(default=dict, blank=True, help_text="Secrets are redacted.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    exit_code = models.SmallIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True, help_text="Pod or container name.")
    pid = models.PositiveIntegerField(null=True, blank=True)
    dry_run = models.BooleanField(default=False)
    counters = models.JSONField(default=dict, blank=True, help_text="What this run did.")
    walk = models.JSONField(
        default=dict,
        blank=True,
        help_text="Where a batch walk stands after this run: the key it resumed after, its "
        "last key, the counters of the whole walk so far, and whether it finished.",
    )
    progress = models.JSONField(
        default=dict,
        blank=True,
        help_text="Live progress, saved every JOB_PROGRESS_INTERVAL: rows done by this run, "
        "the total (estimated: PostgreSQL's count of the table), rate and ETA.",
    )
    argv = models.JSONField(
        null=True,
        blank=True,
        help_text="The command line after the job's name (secrets redacted); null when the "
        "run was started from code (call_command).",
    )
    output = models.JSONField(
        default=dict,
        blank=True,
        help_text='The last lines the run printed: {"lines": [[stream, line], ...], '
        '"total": N}, stream "stdout" or "stderr", oldest first, in the order '
        "printed; at most JOB_OUTPUT_LINES lines, each redacted and bounded; total counts "
        "every line printed. Saved with the progress and at the finish.",
    )
    stopped_by = models.CharField(max_length=150, blank=True, help_text="Who stopped it.")
    error = models.TextField(blank=True, help_text="One line; empty on success.")
    lock_key = models.CharField(max_length=255, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    class Meta:
        db_table = "batch_jobs_run"
        ordering = ["-started_at"]
        # Who may press the console's Stop, Pause, Resume and Retry buttons (viewing runs
        # takes view_jobrun, as in any admin).
        permissions = [("operate_jobrun", "Can stop, pause, resume and retry job runs")]
        indexes = [
            models.Index(fields=["job", "-started_at"]),
            models.Index(fields=["status"]),
            models.Index(fields=["lock_key", "status"]),
        ]

    def __str__(self):
        return f"{self.job} #{self.pk} ({self.status})"


class JobCheckpoint(models.Model):
    """Where a batch job stopped: the last key of its last committed batch.

    Written in the same transaction as that batch, so it can never run ahead of or behind the
    data. Keyed by the job and a hash of the arguments that decide what it walks, so a rerun
    with the same arguments resumes and one with other arguments starts over.
    """

    job = models.CharField(max_length=64)
    arguments_hash = models.CharField(max_length=64)
    last_key = models.JSONField()
    counters = models.JSONField(default=dict)
    rows = models.BigIntegerField(default=0, help_text="Rows walked so far, by every run.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "batch_jobs_checkpoint"
        constraints = [
            models.UniqueConstraint(fields=["job", "arguments_hash"], name="one_checkpoint_per_run")
        ]

    def __str__(self):
        return f"{self.job} at {self.last_key}"


class RunRequest(models.Model):
    """An operator's request about a run or a job: the database is the control plane, so it
    reaches a run on any host or pod, which looks for requests at its batch boundaries.

    A start (and a retry) is run by a dispatcher (``jobctl worker``, or a ``django.tasks``
    task): it claims the request (``claimed_at``, ``claimed_by``), runs ``job JOB ARGV`` as
    its own process, links the run it started (``started_run``) and, when that process ends,
    records its exit code and ``handled_at``. A request whose process was stopped by a signal
    (exit 130 or 143) goes back to pending, claim cleared, so the next claim resumes it.

    A start's secret option values (options secret by name or typed ``Secret``) are not in
    ``argv``, which holds ``***`` in their place: they wait in ``secrets`` while the request is
    pending, and their values are removed from the row when it is claimed (held in the
    dispatcher's memory only, for the process it starts, and written back if the request goes
    back to pending); their positions stay, with null values.
    """

    class Action(models.TextChoices):
        STOP = "stop"
        PAUSE = "pause"
        RESUME = "resume"
        RETRY = "retry"
        START = "start"

    action = models.CharField(max_length=8, choices=Action.choices)
    job = models.CharField(max_length=64)
    run = models.ForeignKey(
        JobRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
        help_text="The run it is about: the one to stop, or to retry.",
    )
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)
    argv = models.JSONField(
        null=True,
        blank=True,
        help_text="A start: the command line after the job's name, a list of strings, "
        "secret values replaced by ***.",
    )
    secrets = models.JSONField(
        default=dict,
        blank=True,
        help_text='A pending start\'s secret values by position in argv ({"3": value}); '
        "the values are removed when the request is claimed (the positions stay, null).",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(
        max_length=255, blank=True, help_text="The dispatcher that runs it: host pid N."
    )
    started_run = models.ForeignKey(
        JobRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="started_by_requests",
        help_text="The run its process recorded (the last one, when it was resumed).",
    )
    exit_code = models.SmallIntegerField(
        null=True, blank=True, help_text="How the process it started ended."
    )
    error = models.TextField(blank=True, help_text="Why it could not be run; one line.")

    class Meta:
        db_table = "batch_jobs_request"
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["run", "action", "handled_at"]),
            models.Index(fields=["handled_at", "claimed_at", "requested_at"]),
        ]

    def __str__(self):
        return f"{self.action} {self.job} by {self.requested_by}"


class JobPause(models.Model):
    """A paused job: its runs do no work (exit 0, recorded skipped) until it is resumed."""

    job = models.CharField(max_length=64, primary_key=True)
    paused_by = models.CharField(max_length=150)
    paused_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "batch_jobs_pause"

    def __str__(self):
        return f"{self.job} paused by {self.paused_by}"


class JobShardPlan(models.Model):
    """How a sharded walk splits its keys: the cut points every shard of the walk uses, and
    the shards that have finished. Written by the walk's first shard; removed when the last
    one finishes (``batch_jobs.framework.shards``)."""

    job = models.CharField(max_length=64)
    arguments_hash = models.CharField(max_length=64, help_text="Of the walk's arguments.")
    shards = models.PositiveSmallIntegerField()
    bounds = models.JSONField(help_text="shards - 1 cut points: range i is (cut[i-1], cut[i]].")
    finished = models.JSONField(default=list, help_text="Shards that walked their range.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "batch_jobs_shard_plan"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "arguments_hash", "shards"], name="one_plan_per_sharded_walk"
            )
        ]

    def __str__(self):
        return f"{self.job} in {self.shards} shards"
