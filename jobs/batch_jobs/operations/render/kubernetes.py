"""Kubernetes CronJobs (and one-off Jobs) with the exit-code contract built in."""

import dataclasses
import shlex

import yaml

from batch_jobs.exitcodes import PERMANENT
from batch_jobs.operations.render import values

CONTAINER = "job"  # podFailurePolicy names it
STARTING_DEADLINE_SECONDS = 300
ONE_OFF_TTL_SECONDS = 86400


@dataclasses.dataclass(frozen=True)
class Target:
    """Where the manifests go: the image, and what the cluster calls things. Each value is
    checked by its rule (``values``) when the target is made."""

    image: str
    app: str  # the app.kubernetes.io/name label
    uid: int  # the user the image runs as
    secret: str  # a Secret with the key database-url
    namespace: str | None = None

    RULES = {
        "image": values.IMAGE,
        "app": values.APP_NAME,
        "uid": values.UID,
        "secret": values.SUBDOMAIN,
        "namespace": values.NAMESPACE,
    }

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None:
                object.__setattr__(self, field.name, self.RULES[field.name](field.name, value))

    @property
    def secrets_dir(self):
        return f"/run/secrets/{self.app}"


def resource_name(job):
    """A DNS-1123 name: cleanup_tokens -> cleanup-tokens (52 characters at most for a CronJob,
    whose Jobs add an 11-character suffix; never ending in '-', which the cut may leave)."""
    return job.replace("_", "-")[:52].rstrip("-")


def labels(job, target):
    return {
        "app.kubernetes.io/name": target.app,
        "app.kubernetes.io/component": "job",
        "batch-jobs/job": resource_name(job),
    }


def pod_failure_policy(action="FailJob"):
    """Fail the Job (an Indexed Job's index: ``FailIndex``) at once on a permanent exit code;
    do not count disruptions (drains, preemption) against the retry budget."""
    return {
        "rules": [
            {
                "action": action,
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": sorted(int(code) for code in PERMANENT),
                },
            },
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def hardened(container):
    """``container`` with the security context every rendered container gets."""
    container["securityContext"] = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    return container


def pod_security(target):
    return {
        "runAsNonRoot": True,
        "runAsUser": target.uid,
        "runAsGroup": target.uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_volumes(target):
    return [
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {
            "name": "secrets",
            "secret": {
                "secretName": target.secret,
                "items": [{"key": "database-url", "path": "database-url"}],
            },
        },
    ]


def volume_mounts(target):
    return [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "secrets", "mountPath": target.secrets_dir, "readOnly": True},
    ]


def database_env(target):
    return [
        {"name": "DATABASE_URL_FILE", "value": f"{target.secrets_dir}/database-url"},
        {"name": "JOB_LOG_FORMAT", "value": "json"},
    ]


def job_spec(job, args, target, shards=None):
    """A Job's spec; with ``shards``, an Indexed Job whose pod I walks shard I of N (the
    framework reads ``JOB_COMPLETION_INDEX``, which Kubernetes sets, and ``JOB_SHARDS``)."""
    command = job.command
    env = database_env(target)
    if shards:
        env.append({"name": "JOB_SHARDS", "value": str(shards)})
    container = {
        "name": CONTAINER,
        "image": target.image,
        "args": ["job", job.name, *args],
        "env": env,
    }
    hardened(container)
    container["volumeMounts"] = volume_mounts(target)
    if command._batch_job.resources:
        container["resources"] = {"requests": dict(command._batch_job.resources)}
    if shards:
        # Each index retries on its own (backoffLimitPerIndex), fails at once on a permanent
        # exit code (FailIndex), and never stops the others (maxFailedIndexes = all): the
        # shards that can finish do, and a failed one is rerun alone.
        spec = {
            "completionMode": "Indexed",
            "completions": shards,
            "parallelism": shards,
            "backoffLimitPerIndex": command._batch_job.retries,
            "maxFailedIndexes": shards,
            "podReplacementPolicy": "Failed",
            "podFailurePolicy": pod_failure_policy("FailIndex"),
        }
    else:
        spec = {
            "backoffLimit": command._batch_job.retries,
            "podFailurePolicy": pod_failure_policy(),
        }
    spec |= {
        "template": {
            "metadata": {"labels": labels(job.name, target)},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": command._batch_job.stop_grace_seconds,
                "securityContext": pod_security(target),
                "containers": [container],
                "volumes": pod_volumes(target),
            },
        },
    }
    if command._batch_job.max_runtime:
        pod, job = deadlines(command)
        spec["template"]["spec"]["activeDeadlineSeconds"] = pod
        spec["activeDeadlineSeconds"] = job
    return spec


#: Seconds an attempt may spend being scheduled and starting, on top of its run.
POD_START_SECONDS = 60


def deadlines(command):
    """``(per pod, per Job)`` deadlines, in seconds, for a job with a ``max_runtime``.

    Each pod stops itself at ``--max-runtime`` (exit 75), then has the stop grace period: its
    own ``activeDeadlineSeconds`` is the backstop for that. The Job's deadline covers every
    attempt (``retries`` + 1), each with time to start, and Kubernetes' back-off between
    them (10 s, doubling, at most 6 minutes), so that a retry after a run stopped at its
    ``--max-runtime`` gets a whole run, not the grace period that is left. An Indexed Job's
    indexes run side by side (parallelism = completions), each with that retry budget
    (``backoffLimitPerIndex``), so the same deadline fits every index.
    """
    pod = command._batch_job.max_runtime + command._batch_job.stop_grace_seconds
    backoff = sum(min(10 * 2**i, 360) for i in range(command._batch_job.retries))
    return pod, (command._batch_job.retries + 1) * (pod + POD_START_SECONDS) + backoff


def metadata(name, job, target):
    meta = {"name": name, "labels": labels(job, target)}
    if target.namespace:
        meta["namespace"] = target.namespace
    return meta


def cron_job(job, target):
    values.check_job(job)
    spec = {"schedule": job.schedule}
    if job.timezone:
        spec["timeZone"] = job.timezone
    spec.update(
        {
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 5,
            "jobTemplate": {
                "metadata": {"labels": labels(job.name, target)},
                "spec": job_spec(job, job.scheduled_args, target, job.command._batch_job.shards),
            },
        }
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(resource_name(job.name), job.name, target),
        "spec": spec,
    }


def one_off_job(job, args, target, shards=None):
    """A Job for ``job ARGS``, ARGS checked the way ``job`` would check them first."""
    values.check_job(job)
    values.check_arguments(job, args)
    if shards is not None:
        shards = values.SHARDS("shards", shards)
    meta = metadata(None, job.name, target)
    del meta["name"]
    meta = {"generateName": f"{resource_name(job.name)}-", **meta}
    spec = job_spec(job, list(args), target, shards)
    spec["ttlSecondsAfterFinished"] = ONE_OFF_TTL_SECONDS
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def backfill_job(job, args, target, migrations, shards=None):
    """The one-off Job of a backfill that the migration gates of ``migrations`` wait on,
    annotated with them, to run between the deploy that adds the column and the one that
    needs it."""
    manifest = one_off_job(job, args, target, shards)
    manifest["metadata"]["annotations"] = {"batch-jobs/gates": " ".join(migrations)}
    return manifest


#: Seconds the worker takes on top of its job's stop grace period: to see its job end and
#: hand the request back.
WORKER_MARGIN_SECONDS = 15
#: The worker CronJob's schedule: every minute, `jobctl worker --drain`.
WORKER_SCHEDULE = "* * * * *"


def worker_grace(jobs):
    """The worker's termination grace period: the longest stop grace period of the jobs it
    may run (its job gets the SIGTERM and that long to stop), and a margin."""
    longest = max((job.command._batch_job.stop_grace_seconds for job in jobs), default=60)
    return longest + WORKER_MARGIN_SECONDS


def worker_labels(target):
    return {"app.kubernetes.io/name": target.app, "app.kubernetes.io/component": "worker"}


def worker_pod(args, target, grace, restart):
    container = {"name": "worker", "image": target.image, "args": args}
    container["env"] = database_env(target)
    hardened(container)
    container["volumeMounts"] = volume_mounts(target)
    return {
        "metadata": {"labels": worker_labels(target)},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": grace,
            "securityContext": pod_security(target),
            "containers": [container],
            "volumes": pod_volumes(target),
        },
    }


def worker(jobs, target, kind="deployment"):
    """The dispatcher of requested runs (``jobctl worker``): a Deployment that waits for
    requests, or a CronJob that drains them every minute (``--drain``). Its grace period
    lets the job it runs stop at a batch boundary (``worker_grace``)."""
    grace = worker_grace(jobs)
    meta = metadata(f"{target.app}-worker", "worker", target)
    meta["labels"] = worker_labels(target)
    if kind == "deployment":
        spec = {
            "replicas": 1,
            "selector": {"matchLabels": worker_labels(target)},
            "template": worker_pod(["jobctl", "worker"], target, grace, "Always"),
        }
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}
    spec = {
        "schedule": WORKER_SCHEDULE,
        # Two drains at once are safe (a request goes to one worker), and a long run
        # should not hold back the next minute's requests.
        "concurrencyPolicy": "Allow",
        "startingDeadlineSeconds": 60,
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": worker_labels(target)},
            "spec": {
                "backoffLimit": 0,
                "template": worker_pod(["jobctl", "worker", "--drain"], target, grace, "Never"),
            },
        },
    }
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": spec}


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting the strings Go's YAML 1.1 parsers (kubectl's) read as
    booleans though PyYAML does not: a namespace or a label ``y`` stays a string."""


def _string(dumper, value):
    style = "'" if value in ("y", "Y", "n", "N") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump(manifests, words):
    """The manifests as one multi-document YAML, under a comment naming the command (its
    words checked and shell-quoted, so that the comment stays one line)."""
    header = f"# Generated by `{shlex.join(words)}`; edit the jobs, not this file.\n"
    body = yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    return header + body
