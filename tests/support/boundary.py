"""What every case of the security suite asserts of a process's answer at a boundary."""

import re

from batch_jobs.exitcodes import ExitCode

#: The codes a run or a command-line tool may end with at a boundary (docs/reference/
#: exit-codes.md), less 1: bad input is never a bug.
DOCUMENTED = frozenset(int(code) for code in ExitCode) - {int(ExitCode.BUG)}

ANSI = re.compile(r"\x1b\[")
#: Characters a terminal acts on rather than shows, but for the newline that ends a line and
#: the tab: C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def assert_contract(code, stdout, stderr, allowed=DOCUMENTED, secrets=()):
    """``code`` is one of ``allowed``; a failure says so in one line on stderr without a
    traceback; no secret, no terminal escape and no other control character shows in either
    stream."""
    assert code in allowed, f"exit {code}, expected one of {sorted(allowed)}: {stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    if code != 0:
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) >= 1, "a failure says why"
    for secret in secrets:
        assert secret not in stdout, f"{secret!r} on stdout"
        assert secret not in stderr, f"{secret!r} on stderr"
    assert not ANSI.search(stdout) and not ANSI.search(stderr), "a terminal escape got through"
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        found = CONTROL.search(text)
        assert not found, f"control character {found.group()!r} on {name}: {text[-2000:]!r}"


def last_line(stderr):
    """The line that says why (events before it are JSON log lines or progress)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""
