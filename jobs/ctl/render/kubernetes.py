"""Kubernetes CronJobs (and one-off Jobs) with the exit-code contract built in."""

import re

import yaml

from jobs.exitcodes import PERMANENT

APP = "django-jobs"
CONTAINER = "job"  # podFailurePolicy names it
APP_UID = 10001
SECRETS_DIR = "/run/secrets/django-jobs"
STARTING_DEADLINE_SECONDS = 300
ONE_OFF_TTL_SECONDS = 86400

# docker/distribution's reference grammar: [registry[:port]/]path[:tag][@digest]
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = re.compile(
    rf"(?:(?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


def valid_image(reference):
    return bool(IMAGE_REFERENCE.fullmatch(reference))


def resource_name(job):
    """A DNS-1123 name: cleanup_tokens -> cleanup-tokens (52 characters at most for a CronJob,
    whose Jobs add an 11-character suffix)."""
    return job.replace("_", "-")[:52]


def labels(job):
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/component": "job",
        "django-jobs/job": resource_name(job),
    }


def pod_failure_policy():
    """Fail the Job at once on a permanent exit code; do not count disruptions (drains,
    preemption) against the retry budget."""
    return {
        "rules": [
            {
                "action": "FailJob",
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


def job_spec(job, args, image, secret):
    command = job.command
    container = {
        "name": CONTAINER,
        "image": image,
        "args": ["job", job.name, *args],
        "env": [
            {"name": "DATABASE_URL_FILE", "value": f"{SECRETS_DIR}/database-url"},
            {"name": "JOB_LOG_FORMAT", "value": "json"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True},
        ],
    }
    if command.resources:
        container["resources"] = {"requests": dict(command.resources)}
    spec = {
        "backoffLimit": command.retries,
        "podFailurePolicy": pod_failure_policy(),
        "template": {
            "metadata": {"labels": labels(job.name)},
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": command.stop_grace_seconds,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": APP_UID,
                    "runAsGroup": APP_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [container],
                "volumes": [
                    {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                    {
                        "name": "secrets",
                        "secret": {
                            "secretName": secret,
                            "items": [{"key": "database-url", "path": "database-url"}],
                        },
                    },
                ],
            },
        },
    }
    if command.max_runtime:
        # The job stops itself at --max-runtime (exit 75); the deadline is the backstop.
        spec["activeDeadlineSeconds"] = command.max_runtime + command.stop_grace_seconds
    return spec


def metadata(name, job, namespace):
    meta = {"name": name, "labels": labels(job)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def cron_job(job, image, namespace=None, secret=APP):
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
                "metadata": {"labels": labels(job.name)},
                "spec": job_spec(job, job.scheduled_args, image, secret),
            },
        }
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(resource_name(job.name), job.name, namespace),
        "spec": spec,
    }


def one_off_job(job, args, image, namespace=None, secret=APP):
    meta = metadata(None, job.name, namespace)
    del meta["name"]
    meta = {"generateName": f"{resource_name(job.name)}-", **meta}
    spec = job_spec(job, list(args), image, secret)
    spec["ttlSecondsAfterFinished"] = ONE_OFF_TTL_SECONDS
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}


def dump(manifests, command_line):
    header = f"# Generated by `{command_line}`; edit the jobs, not this file.\n"
    body = yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)
    return header + body
