"""The ``jobctl`` command line: list, describe, render and history."""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import click

from batch_jobs.exitcodes import ExitCode


class UsageExit(click.ClickException):
    """A domain error: one line on stderr and exit 64 (runner misuse), never a traceback."""

    exit_code = int(ExitCode.RUNNER_MISUSE)


class ConfigExit(click.ClickException):
    """A configuration error: one line on stderr and exit 78."""

    exit_code = int(ExitCode.CONFIG)


def setup_django(needs_database):
    from django.core.exceptions import ImproperlyConfigured

    from batch_jobs import bootstrap

    try:
        bootstrap.setup(needs_database=needs_database)
    except ImproperlyConfigured as e:
        raise ConfigExit(bootstrap.one_line(e)) from None


def get_job(name):
    from batch_jobs.ctl import catalog

    try:
        return catalog.get(name)
    except catalog.UnknownJob as e:
        raise UsageExit(str(e)) from None


def scheduled():
    from batch_jobs.ctl import catalog

    found = catalog.scheduled_jobs()
    if not found:
        raise UsageExit("no job declares a schedule; set `schedule` on a JobCommand")
    return found


def table(rows, headers):
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="django-batch-jobs", prog_name="jobctl")
@click.pass_context
def cli(ctx):
    """Schedules of the project's jobs, rendered for Kubernetes, cron and systemd, and the
    history of their runs."""
    if ctx.invoked_subcommand:
        # Listing and rendering read the code, not the database.
        setup_django(needs_database=ctx.invoked_subcommand in NEEDS_DATABASE)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def list_jobs(as_json):
    """List the jobs with their schedules and one-line help."""
    from batch_jobs.ctl import catalog

    found = catalog.jobs()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {"name": j.name, "schedule": j.schedule, "timezone": j.timezone, "help": j.help}
                    for j in found
                ],
                indent=2,
            )
        )
        return
    table([[j.name, j.schedule or "-", j.help] for j in found], ["NAME", "SCHEDULE", "HELP"])


@cli.command()
@click.argument("name")
def describe(name):
    """Show a job's help, arguments, schedule, lock behaviour and next five runs."""
    from batch_jobs.framework.schedule import next_runs

    job = get_job(name)
    command = job.command
    declared = command._batch_job
    click.echo(f"{job.name}: {job.help}")
    click.echo(f"schedule: {job.schedule or 'none (run on demand)'}")
    if job.schedule:
        click.echo(f"time zone: {job.timezone or 'UTC'}")
        click.echo(f"scheduled arguments: {' '.join(job.scheduled_args) or '(none)'}")
        click.echo("next runs:")
        for when in next_runs(job.schedule, job.timezone):
            click.echo(f"  {when.isoformat()}")
    if declared.lock:
        widened = f", widened by {', '.join(declared.lock_args)}" if declared.lock_args else ""
        click.echo(
            f"lock: one run at a time{widened}; a second exits 75 (0 with --skip-if-running)"
        )
    else:
        click.echo("lock: none (runs may overlap)")
    click.echo(f"paused: {pause_state(job.name)}")
    if declared.batch_size:
        click.echo(f"checkpoint: {pending_checkpoint(job.name)}")
    click.echo(f"max runtime: {f'{declared.max_runtime}s' if declared.max_runtime else 'none'}")
    click.echo(f"retries: {declared.retries}; stop grace period: {declared.stop_grace_seconds}s")
    deadline = command.database_deadline
    click.echo(
        f"database deadline: {f'{deadline:g}s per batch or statement' if deadline else 'none'}"
    )
    click.echo("")
    click.echo(command.create_parser("job", job.name).format_help().rstrip())


def pause_state(name):
    """Whether job ``name`` is paused; describe works without a database."""
    from django.db import DatabaseError

    from batch_jobs.ctl.control import paused
    from batch_jobs.framework.errors import one_line

    try:
        pause = paused(name)
    except DatabaseError as e:
        return f"unknown (cannot read the pauses: {one_line(e)})"
    if pause is None:
        return "no"
    return f"yes, by {pause.paused_by} at {pause.paused_at:%Y-%m-%d %H:%M:%S %Z}"


def pending_checkpoint(name):
    """Where an unfinished walk of job ``name`` stands; describe works without a database."""
    from django.db import DatabaseError

    from batch_jobs.ctl.history import checkpoints
    from batch_jobs.framework.errors import one_line

    try:
        pending = checkpoints(name)
    except DatabaseError as e:
        return f"unknown (cannot read the checkpoints: {one_line(e)})"
    if not pending:
        return "none (the next run starts from the top)"
    resume = "the next run with the same arguments resumes there; --restart starts over"
    return "; ".join(pending) + f" ({resume})"


@cli.group()
def render():
    """Render the schedules as Kubernetes manifests, a crontab or systemd units."""


def image_reference(ctx, param, value):
    from batch_jobs.ctl.render.kubernetes import valid_image

    if not valid_image(value):
        raise click.BadParameter(
            f"{value!r} is not an image reference such as registry.example.com/team/django-jobs:1.4"
        )
    return value


def check_arguments(job, args):
    """Refuse (exit 2) arguments the job's own parser refuses, before rendering a Job whose pod
    would exit 2."""
    from django.core.management.base import CommandError

    try:
        job.command.create_parser("job", job.name).parse_args(list(args))
    except CommandError as e:
        message = str(e).removeprefix("Error: ")
        raise click.UsageError(f"job {job.name} would refuse these arguments: {message}") from None


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


@render.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option("--image", required=True, callback=image_reference, help="Image to run.")
@click.option("--namespace", help="Namespace of the resources (default: none, kubectl's).")
@app_name_option
@click.option("--secret", show_default="the app name", help="Secret holding the key database-url.")
@click.option(
    "--uid",
    type=click.IntRange(min=1),
    show_default="the JOB_IMAGE_UID setting",
    help="User id the image runs as.",
)
@click.option(
    "--job",
    "one_off",
    metavar="NAME",
    help="Render a one-off Job for NAME instead of the CronJobs; arguments follow --.",
)
@click.option(
    "--shards",
    type=click.IntRange(min=1, max=1000),
    help="With --job: an Indexed Job of N pods, pod I walking shard I of N (batch jobs).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def kubernetes(image, namespace, app_name, secret, uid, one_off, shards, args):
    """Render CronJobs for every scheduled job (or a one-off Job) as YAML on stdout."""
    from batch_jobs.conf import setting
    from batch_jobs.ctl.render import kubernetes as k8s

    if args and not one_off:
        raise click.UsageError("arguments after -- go with --job NAME")
    if shards and not one_off:
        raise click.UsageError(
            "--shards goes with --job NAME; a scheduled job declares `shards` for its CronJob"
        )
    target = k8s.Target(
        image=image,
        app=app_name,
        uid=uid or setting("JOB_IMAGE_UID"),
        secret=secret or app_name,
        namespace=namespace,
    )
    if one_off:
        job = get_job(one_off)
        check_arguments(job, args)
        if shards and not job.command._batch_job.batch_size:
            raise click.UsageError(f"job {job.name} is not a batch job: it cannot be sharded")
        if shards and any(a == "--shard" or a.startswith("--shard=") for a in args):
            raise click.UsageError("--shards gives each pod its shard; leave --shard out")
        manifests = [k8s.one_off_job(job, args, target, shards)]
    else:
        manifests = [k8s.cron_job(job, target) for job in scheduled()]
    words = ["jobctl", "render", "kubernetes", "--image", image]
    if namespace:
        words += ["--namespace", namespace]
    click.echo(k8s.dump(manifests, " ".join(words)), nl=False)


def default_job_bin():
    return str(Path(sys.executable).parent / "job")


def absolute_path(ctx, param, value):
    if not os.path.isabs(value):
        raise click.BadParameter("must be an absolute path (cron's PATH is sparse)")
    return value


def default_project_dir():
    """The folder that holds the settings module's top package (for ``mysite.settings``, the
    one with ``mysite/`` in it): where ``manage.py`` is in a ``startproject`` layout."""
    import importlib

    top = importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"].partition(".")[0])
    where = list(getattr(top, "__path__", [])) or [top.__file__]
    # Not resolved: a project deployed behind a symlink (/srv/current) is run through it.
    return os.path.dirname(os.path.abspath(where[0]))


def project_directory(ctx, param, value):
    """An absolute path on one line; each renderer encodes it. It need not exist here: the
    schedule may be rendered on another machine than the one it runs on."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise click.BadParameter("must not contain control characters or newlines")
    if not os.path.isabs(value):
        raise click.BadParameter("must be an absolute path")
    return os.path.normpath(value)


def host_options(command):
    """--job-bin and --project-dir, shared by the crontab and systemd renderers."""
    command = click.option(
        "--project-dir",
        "--workdir",
        "project_dir",
        default=default_project_dir,
        callback=project_directory,
        show_default="the folder holding the settings module's package, where manage.py is",
        help="Directory the jobs run in, from which `job` imports the project.",
    )(command)
    return click.option(
        "--job-bin",
        default=default_job_bin,
        callback=absolute_path,
        show_default="the `job` beside this Python",
        help="Absolute path of the job runner.",
    )(command)


@render.command()
@host_options
@app_name_option
@click.option(
    "--log-dir",
    show_default="/var/log/APP_NAME",
    help="Directory of the per-job log files.",
)
def crontab(job_bin, project_dir, app_name, log_dir):
    """Render a crontab with one line per scheduled job."""
    from batch_jobs.ctl.render.cron import Unwritable
    from batch_jobs.ctl.render.cron import crontab as render_crontab

    log_dir = log_dir or f"/var/log/{app_name}"
    settings_module = os.environ["DJANGO_SETTINGS_MODULE"]
    try:
        rendered = render_crontab(scheduled(), settings_module, job_bin, log_dir, project_dir)
    except Unwritable as e:
        raise click.UsageError(str(e)) from None
    click.echo(rendered, nl=False)


@render.command()
@host_options
@app_name_option
@click.option(
    "--env-file",
    show_default="/etc/APP_NAME.env",
    help="EnvironmentFile with DATABASE_URL and the rest.",
)
@click.option("--user", show_default="APP_NAME", help="User to run as.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, writable=True),
    help="Write the unit files here instead of printing them.",
)
def systemd(job_bin, project_dir, app_name, env_file, user, output_dir):
    """Render a .service and a .timer (Persistent=true) per scheduled job."""
    from batch_jobs.ctl.render.cron import Unsupported, Unwritable, systemd_units

    env_file = env_file or f"/etc/{app_name}.env"
    try:
        units = systemd_units(
            scheduled(),
            app_name,
            os.environ["DJANGO_SETTINGS_MODULE"],
            job_bin,
            project_dir,
            env_file,
            user or app_name,
        )
    except Unsupported as e:
        raise UsageExit(f"cannot express as a systemd timer: {e}") from None
    except Unwritable as e:
        raise click.UsageError(str(e)) from None
    if output_dir:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        for name, content in units.items():
            (Path(output_dir) / name).write_text(content)
            click.echo(str(Path(output_dir) / name))
        return
    for name, content in units.items():
        click.echo(f"# --- {name}")
        click.echo(content)


@cli.command()
@click.argument("name", required=False)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many runs to show.",
)
def history(name, limit):
    """Show recent runs from the run records, newest first."""
    from batch_jobs.ctl.history import HEADERS, recent_runs, row

    if name:
        get_job(name)
    with run_records():
        runs = recent_runs(name, limit)
    if not runs:
        click.echo("no runs recorded" + (f" for {name}" if name else ""))
        return
    table([row(r) for r in runs], HEADERS)


@contextlib.contextmanager
def run_records():
    """Reading the run records: a missing table (78) or database (69) is one line."""
    from django.db import OperationalError, ProgrammingError

    from batch_jobs.framework.errors import one_line

    try:
        yield
    except ProgrammingError as e:
        raise ConfigExit(
            f"cannot read the run records ({one_line(e)}); apply the migrations: "
            "`python manage.py migrate` (or `job migrate`)"
        ) from None
    except OperationalError as e:
        error = click.ClickException(f"cannot read the run records: {one_line(e)}")
        error.exit_code = int(ExitCode.DB_UNAVAILABLE)
        raise error from None


# -- run control -----------------------------------------------------------------------------

NEEDS_DATABASE = {"history", "stop", "pause", "resume", "retry"}


def by_option(command):
    """--by, shared by the run-control commands: who asks, recorded with the request."""

    def default():
        from batch_jobs.ctl.control import operator

        return operator()

    return click.option(
        "--by", default=default, show_default="USER@HOST", help="Who asks (recorded)."
    )(command)


@contextlib.contextmanager
def refusals():
    from batch_jobs.ctl.control import Refused

    with run_records():
        try:
            yield
        except Refused as e:
            raise UsageExit(str(e)) from None


@cli.command()
@click.argument("run_id", metavar="RUN", type=click.IntRange(min=1))
@by_option
def stop(run_id, by):
    """Ask a running run to stop at its next batch boundary (it exits 3, keeping its
    checkpoint)."""
    from batch_jobs.ctl.control import stop as request_stop

    with refusals():
        run = request_stop(run_id, by)
    click.echo(f"asked run {run.pk} ({run.job} on {run.host}) to stop at its next batch boundary")


@cli.command()
@click.argument("name")
@by_option
def pause(name, by):
    """Pause a job: its run in flight stops at its next batch boundary, and later runs do
    nothing (exit 0) until it is resumed."""
    from batch_jobs.ctl.control import pause as request_pause

    get_job(name)
    with refusals():
        paused, created = request_pause(name, by)
    if created:
        click.echo(f"paused {name}; `jobctl resume {name}` lets it go on from its checkpoint")
    else:
        click.echo(f"{name} was already paused by {paused.paused_by}")


@cli.command()
@click.argument("name")
@by_option
def resume(name, by):
    """Resume a paused job: its next run goes on from its checkpoint."""
    from batch_jobs.ctl.control import resume as request_resume

    get_job(name)
    with refusals():
        was_paused = request_resume(name, by)
    click.echo(f"resumed {name}" if was_paused else f"{name} was not paused")


@cli.command()
@click.argument("run_id", metavar="RUN", type=click.IntRange(min=1), required=False)
@click.option(
    "--pending", is_flag=True, help="Run every retry requested from the console, oldest first."
)
@by_option
def retry(run_id, pending, by):
    """Run a failed, stopped or interrupted run's job again with the same arguments, here;
    it resumes from its checkpoint. Exits with the job's exit code (with --pending, the last
    non-zero one)."""
    from batch_jobs.ctl.control import pending_retries, retry_words

    if (run_id is None) == (not pending):
        raise click.UsageError("give a RUN or --pending, not both")
    if pending:
        with run_records():
            requested = [(r.run_id, r.requested_by) for r in pending_retries() if r.run_id]
        if not requested:
            click.echo("no retry is pending", err=True)
        code = 0
        for requested_run, requested_by in requested:
            with refusals():
                words = retry_words(requested_run, by)
            click.echo(f"retrying run {requested_run} (asked by {requested_by})", err=True)
            code = run_job(words) or code
        raise SystemExit(code)
    with refusals():
        words = retry_words(run_id, by)
    click.echo(f"retrying run {run_id}: job {' '.join(words)}", err=True)
    raise SystemExit(run_job(words))


def run_job(words):
    """Run ``job WORDS`` here, beside this jobctl; its exit code."""
    return subprocess.call([str(Path(sys.executable).parent / "job"), *words])


def main():
    cli(prog_name="jobctl")
