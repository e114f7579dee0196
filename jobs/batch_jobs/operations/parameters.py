"""A job's parameters as plain data, read from its own argparse parser, and the command line
built from values given for them (the console's Run form): checked by that same parser, so
that what the runner would refuse is refused here with the parser's own message.

The command line is built so that no value can become an option: an option's value goes in
one word with its flag (``--name=VALUE``, so ``--name=--evil`` is a value), and positional
values come after ``--``. A value that has to be a word of its own (an option taking several
values) may not start with ``-``.
"""

import argparse
import dataclasses

from batch_jobs.framework.arguments import StoredFile, email_address
from batch_jobs.framework.redact import DJANGO_DEFAULT_OPTIONS, SECRET_NAME, Secret
from batch_jobs.operations import control

#: Options of every Django command, which say nothing about a run: not parameters.
LEFT_OUT = DJANGO_DEFAULT_OPTIONS | {"help", "version"}

#: What the form says a value is, for the types it knows.
KINDS = {
    int: "integer",
    float: "number",
    str: "text",
    Secret: "secret",
    StoredFile: "file",
    email_address: "e-mail address",
}


class Invalid(Exception):
    """Values the job's runner would refuse: the parser's message, or the runner's."""


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One argument of a job's parser, as a form shows it.

    ``kind`` is ``"switch"`` (an option without a value), ``"choice"``, ``"file"``, or the
    value's type for people (``"integer"``, ``"text"``...); ``many``: it takes several values
    (one per line in the form); ``secret``: a ``Secret`` type or a secret-looking name, as
    ``batch_jobs.framework.redact`` decides."""

    dest: str
    flag: str  # the long option string; "" for a positional argument
    kind: str
    help: str = ""
    default: object = None
    choices: tuple = ()
    required: bool = False
    many: bool = False
    secret: bool = False
    store: object = True  # for a switch: the value it stores (store_false: False)
    repeated: bool = False  # given once per value (action="append"): --tag=a --tag=b
    metavar: str = ""

    @property
    def positional(self):
        return not self.flag

    @property
    def label(self):
        return self.flag or self.dest

    @property
    def file(self):
        return self.kind == "file"


def parser_for(job):
    """A fresh parser of ``job`` (a ``catalog.Job``), as ``job NAME`` would parse with."""
    return job.command.create_parser("job", job.name)


def _type_of(action):
    kind = action.type
    if isinstance(kind, type):
        for known, name in KINDS.items():
            if isinstance(known, type) and issubclass(kind, known) and known is not str:
                return name
    if kind in KINDS:
        return KINDS[kind]
    if hasattr(kind, "what"):  # batch_jobs.bounded
        return kind.what
    return "text" if kind is None else getattr(kind, "__name__", "value").replace("_", " ")


def _is_secret(action):
    kind = action.type
    typed = isinstance(kind, type) and issubclass(kind, Secret)
    return typed or bool(SECRET_NAME.search(action.dest))


def parameters(job):
    """``job``'s parameters in the form's order: ``--dry-run`` first (when the job has it),
    then the job's own, then the framework's options."""
    found = []
    for action in parser_for(job)._actions:
        if action.dest in LEFT_OUT or isinstance(action, argparse._HelpAction):
            continue
        flag = max(action.option_strings, key=len) if action.option_strings else ""
        common = dict(
            dest=action.dest,
            flag=flag,
            help=(action.help or "") if action.help != argparse.SUPPRESS else "",
            required=bool(action.required) if flag else action.nargs not in ("?", "*"),
            metavar=action.metavar if isinstance(action.metavar, str) else "",
        )
        if action.nargs == 0:  # store_true, store_false, store_const, count...
            store = action.const if not isinstance(action, argparse._CountAction) else True
            found.append(
                Parameter(kind="switch", default=bool(action.default), store=store, **common)
            )
            continue
        many = action.nargs in ("*", "+") or (isinstance(action.nargs, int) and action.nargs > 1)
        repeated = isinstance(action, argparse._AppendAction)
        default = action.default if action.default is not argparse.SUPPRESS else None
        if isinstance(default, list | tuple):
            default = "\n".join(str(v) for v in default)
        found.append(
            Parameter(
                kind="choice" if action.choices else _type_of(action),
                default=default,
                choices=tuple(str(c) for c in action.choices or ()),
                many=many or repeated,
                repeated=repeated,
                secret=_is_secret(action),
                **common,
            )
        )
    found.sort(key=lambda p: p.dest != "dry_run")  # stable: the rest keep their order
    return found


def _values(parameter, value):
    """The words given for ``parameter``: a list of text (none when it is left empty)."""
    if parameter.kind == "switch":
        return [value] if value else []
    if value is None:
        return []
    if parameter.many:
        items = value if isinstance(value, list | tuple) else str(value).splitlines()
        return [str(v).strip() for v in items if str(v).strip()]
    text = str(value)
    return [text] if text.strip() else []


def argv_for(job_parameters, values):
    """The command line (after the job's name) for ``values`` (``{dest: value}``: ``True``
    for a switch that is on, text, or a list of text for a parameter that takes several)."""
    options, positionals = [], []
    for p in job_parameters:
        words = _values(p, values.get(p.dest))
        if p.kind == "switch":
            if bool(words) != bool(p.default):  # only a switch moved from its default
                options.append(p.flag)
        elif p.positional:
            positionals += words
        elif p.many and not p.repeated:
            for word in words:
                if word.startswith("-"):
                    raise Invalid(f"argument {p.flag}: a value may not start with '-': {word!r}")
            if words:
                options += [p.flag, *words]
        else:
            options += [f"{p.flag}={word}" for word in words]
    return options + (["--", *positionals] if positionals else [])


def check(job, argv):
    """``Invalid`` with the message the runner would give (the parser's, for what it
    refuses) when ``job NAME ARGV`` would not run; the same check as a start request's
    (``control.checked_argv``)."""
    try:
        control.checked_argv(job.name, job.command, argv)
    except control.Refused as e:
        raise Invalid(str(e)) from None
