"""``jobctl render kubernetes|crontab|systemd``: the schedules rendered from the catalog."""

import contextlib
import os
import sys
from pathlib import Path

import click

from batch_jobs.cli.jobctl import CONTEXT, OneLine, UsageExit, cli, get_job, say, scheduled
from batch_jobs.cli.jobctl.backfills import database_option, read_gates
from batch_jobs.exitcodes import ExitCode
from batch_jobs.framework.redact import shown


@cli.group()
def render():
    """Render the schedules as Kubernetes manifests, a crontab or systemd units."""


#: The renderers' inputs (``values.Invalid.field``) by the option that gives them.
OPTIONS = {
    "image": "--image",
    "app": "--app-name",
    "uid": "--uid",
    "secret": "--secret",
    "namespace": "--namespace",
    "shards": "--shards",
    "one_off": "--job",
    "arguments": "the arguments after --",
    "job_bin": "--job-bin",
    "project_dir": "--project-dir",
    "log_dir": "--log-dir",
    "env_file": "--env-file",
    "user": "--user",
    "settings_module": "DJANGO_SETTINGS_MODULE",
}


@contextlib.contextmanager
def checked_values():
    """A value a renderer refuses (``values.Invalid``), as one line naming the option, its
    rule and the value (escaped), with its exit code: 2 for a malformed value, 64 for what
    the runner refuses, 78 for the settings. Nothing is printed or written before."""
    from batch_jobs.operations.render.values import Invalid

    try:
        yield
    except Invalid as e:
        where = OPTIONS.get(e.field, e.field)
        if where.startswith("--"):
            where = f"invalid value for {where}"
        # OneLine, not a UsageError: click would attach the context to a usage error and
        # print the usage block above it. The value is redacted, escaped and bounded.
        error = OneLine(f"{where}: {e.rule} (got {shown(repr(e.value), 80)})")
        error.exit_code = e.code
        raise error from None


def app_name_option(command):
    """--app-name, shared by every renderer: what the rendered files name things after."""

    def default():
        from batch_jobs.conf import setting

        return setting("JOB_APP_NAME")

    return click.option(
        "--app-name",
        default=default,
        show_default="the JOB_APP_NAME setting",
        help="Name of the application: Kubernetes label and Secret, unit and log prefixes.",
    )(command)


def default(value, fallback):
    """An option's value, or its default when not given (an empty value is a value, and is
    checked as one)."""
    return fallback if value is None else value


@render.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option(
    "--image",
    required=True,
    help="Image to run: [registry[:port]/]path[:tag][@digest], the path in lowercase.",
)
@click.option(
    "--namespace",
    help="Namespace of the resources, a DNS label (default: none, kubectl's).",
)
@app_name_option
@click.option(
    "--secret",
    show_default="the app name",
    help="Secret holding the key database-url, a DNS subdomain.",
)
@click.option(
    "--uid",
    show_default="the JOB_IMAGE_UID setting",
    help="User id the image runs as, from 1 to 2147483647.",
)
@click.option(
    "--job",
    "one_off",
    metavar="NAME",
    help="Render a one-off Job for NAME instead of the CronJobs; arguments follow --.",
)
@click.option(
    "--shards",
    metavar="N",
    help="With --job: an Indexed Job of N pods (1 to 1000), pod I walking shard I of N "
    "(batch jobs).",
)
@click.option(
    "--backfills",
    is_flag=True,
    help="Render a one-off Job per pending backfill instead: each migration gate (RequireJob) "
    "of a pending migration whose job has not finished (reads the database).",
)
@database_option(help_prefix="With --backfills: ", default=None)
@click.option(
    "--worker",
    type=click.Choice(["deployment", "cronjob"]),
    help="Render the worker that runs the requested runs instead: a Deployment of `jobctl "
    "worker`, or a CronJob of `jobctl worker --drain` every minute.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def kubernetes(
    image, namespace, app_name, secret, uid, one_off, shards, backfills, database, worker, args
):
    """Render CronJobs for every scheduled job (or a one-off Job, the pending backfills' Jobs,
    or the worker) as YAML on stdout."""
    from batch_jobs.conf import setting
    from batch_jobs.operations.render import kubernetes as k8s
    from batch_jobs.operations.render import values

    if backfills and (one_off is not None or shards is not None or args):
        raise click.UsageError(
            "--backfills renders the jobs the migration gates name; leave --job, --shards and "
            "arguments out"
        )
    if database is not None and not backfills:
        raise click.UsageError("--database goes with --backfills")
    if args and one_off is None:
        raise click.UsageError("arguments after -- go with --job NAME")
    if worker is not None and (one_off is not None or args or backfills):
        raise click.UsageError(
            "--worker renders the worker alone: leave --job, --backfills and -- out"
        )
    if shards is not None and one_off is None:
        raise click.UsageError(
            "--shards goes with --job NAME; a scheduled job declares `shards` for its CronJob"
        )
    with checked_values():
        target = k8s.Target(
            image=image,
            app=app_name,
            uid=default(uid, setting("JOB_IMAGE_UID")),
            secret=default(secret, app_name),
            namespace=namespace,
        )
        if one_off is not None:
            job = get_job(values.JOB_NAME("one_off", one_off))
            if shards is not None:
                shards = values.SHARDS("shards", shards)
                if not job.command._batch_job.batch_size:
                    raise click.UsageError(
                        f"job {job.name} is not a batch job: it cannot be sharded"
                    )
                if any(a == "--shard" or a.startswith("--shard=") for a in args):
                    raise click.UsageError("--shards gives each pod its shard; leave --shard out")
            manifests = [k8s.one_off_job(job, args, target, shards)]
        elif backfills:
            manifests = backfill_jobs(database, target)
        elif worker is not None:
            from batch_jobs.operations import catalog

            manifests = [k8s.worker(catalog.jobs(), target, worker)]
        else:
            manifests = [k8s.cron_job(job, target) for job in scheduled()]
    words = ["jobctl", "render", "kubernetes", "--image", target.image]
    if target.namespace:
        words += ["--namespace", target.namespace]
    if backfills:
        words += ["--backfills", *(["--database", database] if database else [])]
        if not manifests:
            say("no pending backfills: every gate of a pending migration has finished", err=True)
    if worker is not None:
        words += ["--worker", worker]
    click.echo(k8s.dump(manifests, words), nl=False)


def backfill_jobs(database, target):
    """A one-off Job per pending backfill (one per job and arguments, however many gates wait
    on it), an Indexed Job when the job declares ``shards``."""
    from batch_jobs.operations.backfills import pending_backfills
    from batch_jobs.operations.render import kubernetes as k8s

    gates = {}
    for gate in pending_backfills(read_gates(database)):
        gates.setdefault((gate.job, gate.args), []).append(gate.key)
    manifests = []
    for (name, args), migrations in gates.items():
        job = get_job(name)
        manifests.append(
            k8s.backfill_job(job, args, target, migrations, job.command._batch_job.shards)
        )
    return manifests


def default_job_bin():
    return str(Path(sys.executable).parent / "job")


def default_project_dir():
    """The folder that holds the settings module's top package (for ``mysite.settings``, the
    one with ``mysite/`` in it): where ``manage.py`` is in a ``startproject`` layout."""
    import importlib

    top = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"].partition(".")[0])
    where = list(getattr(top, "__path__", [])) or [top.__file__]
    # Not resolved: a project deployed behind a symlink (/srv/current) is run through it.
    return os.path.dirname(os.path.abspath(where[0]))


def host_options(command):
    """--job-bin and --project-dir, shared by the crontab and systemd renderers. Each is
    checked, with every other value, by the renderers' rules (``values``)."""
    command = click.option(
        "--project-dir",
        "--workdir",
        "project_dir",
        default=default_project_dir,
        show_default="the folder holding the settings module's package, where manage.py is",
        help="Directory the jobs run in, from which `job` imports the project: an absolute "
        "path (it need not exist here).",
    )(command)
    return click.option(
        "--job-bin",
        default=default_job_bin,
        show_default="the `job` beside this Python",
        help="Absolute path of the job runner (cron's PATH is sparse).",
    )(command)


def cron_host(job_bin, project_dir, app_name, **more):
    """The host that crontab lines and systemd units run on, as the options describe it."""
    from batch_jobs.operations.render import cron

    return cron.Host(
        settings_module=os.environ["DJANGO_SETTINGS_MODULE"],
        job_bin=job_bin,
        project_dir=project_dir,
        app=app_name,
        **more,
    )


@render.command()
@host_options
@app_name_option
@click.option(
    "--log-dir",
    show_default="/var/log/APP_NAME",
    help="Directory of the per-job log files, an absolute path.",
)
def crontab(job_bin, project_dir, app_name, log_dir):
    """Render a crontab with one line per scheduled job."""
    from batch_jobs.operations.render import cron

    with checked_values():
        host = cron_host(job_bin, project_dir, app_name, log_dir=log_dir)
        rendered = cron.crontab(scheduled(), host)
    click.echo(rendered, nl=False)


@render.command()
@host_options
@app_name_option
@click.option(
    "--env-file",
    show_default="/etc/APP_NAME.env",
    help="EnvironmentFile with DATABASE_URL and the rest, an absolute path (not read here).",
)
@click.option(
    "--user",
    show_default="APP_NAME",
    help="User to run as: a user name (letters, digits, '_' and '-') or a numeric id.",
)
@click.option(
    "--output-dir",
    # Plain text: write_file finds what is in the way (one line, 73), not click's usage block.
    help="Write the unit files here instead of printing them.",
)
def systemd(job_bin, project_dir, app_name, env_file, user, output_dir):
    """Render a .service and a .timer (Persistent=true) per scheduled job."""
    from batch_jobs.operations.render import cron

    with checked_values():
        host = cron_host(job_bin, project_dir, app_name, env_file=env_file, user=user)
        try:
            units = cron.systemd_units(scheduled(), host)
        except cron.Unsupported as e:
            raise UsageExit(f"cannot express as a systemd timer: {e}") from None
    # Every unit is rendered (and every value checked) before the first file is written.
    if output_dir:
        for name, content in units.items():
            say(str(write_file(Path(output_dir), name, content)))
        return
    for name, content in units.items():
        click.echo(f"# --- {name}")
        click.echo(content)


def write_file(directory, name, content):
    """Write ``content`` to ``directory/name``, making the directory; one line and exit 73
    (EX_CANTCREAT) when the file system refuses (read-only, no permission, a file in the
    way, no space)."""
    path = directory / name
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    except OSError as e:
        error = OneLine(f"cannot write {path}: {e.strerror or e}")
        error.exit_code = int(ExitCode.CANT_CREATE)
        raise error from None
    return path
