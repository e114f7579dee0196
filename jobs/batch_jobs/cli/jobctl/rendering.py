"""``jobctl render kubernetes|crontab|systemd``: the schedules rendered from the catalog."""

import os
import sys
from pathlib import Path

import click

from batch_jobs.cli.jobctl import CONTEXT, UsageExit, cli, get_job, scheduled
from batch_jobs.exitcodes import ExitCode


@cli.group()
def render():
    """Render the schedules as Kubernetes manifests, a crontab or systemd units."""


def image_reference(ctx, param, value):
    from batch_jobs.operations.render.kubernetes import valid_image

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
    from batch_jobs.operations.render import kubernetes as k8s

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
    from batch_jobs.operations.render.cron import Unwritable
    from batch_jobs.operations.render.cron import crontab as render_crontab

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
    from batch_jobs.operations.render.cron import Unsupported, Unwritable, systemd_units

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
        for name, content in units.items():
            click.echo(str(write_file(Path(output_dir), name, content)))
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
        error = click.ClickException(f"cannot write {path}: {e.strerror or e}")
        error.exit_code = int(ExitCode.CANT_CREATE)
        raise error from None
    return path
