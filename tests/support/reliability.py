"""The reliability report: each fault or bad-input case, and what it cost."""

import collections
import dataclasses
import os
import random

import pytest

#: ``make reliability`` sets RELIABILITY=full; ``make test`` runs a seeded, bounded sample.
FULL = os.environ.get("RELIABILITY") == "full"
#: A case (or a parameter) that runs only in the full set, under `make reliability`.
full_only = pytest.mark.skipif(not FULL, reason="the full set runs under make reliability")
SEED = int(os.environ.get("RELIABILITY_SEED", "20261122"))


def cases(full, sample):
    """How many cases a fault class gets in this run."""
    return full if FULL else sample


def rng(name):
    return random.Random(f"{SEED}:{name}")


@dataclasses.dataclass
class Case:
    kind: str
    exit_code: int
    expected: frozenset
    lost: int = 0
    doubled: int = 0
    left_running: int = 0


class Report:
    def __init__(self):
        self.cases = []

    def add(self, kind, exit_code, expected, lost=0, doubled=0, left_running=0):
        self.cases.append(Case(kind, exit_code, frozenset(expected), lost, doubled, left_running))

    def violations(self):
        return [
            c
            for c in self.cases
            if c.lost or c.doubled or c.left_running or c.exit_code not in c.expected
        ]

    def table(self):
        by_kind = collections.defaultdict(list)
        for case in self.cases:
            by_kind[case.kind].append(case)
        header = (
            "fault or input class",
            "cases",
            "exit codes seen",
            "lost",
            "doubled",
            "running",
            "ok",
        )
        rows = []
        for kind, group in by_kind.items():
            seen = collections.Counter(c.exit_code for c in group)
            bad = [c for c in group if c.exit_code not in c.expected]
            rows.append(
                (
                    kind,
                    str(len(group)),
                    " ".join(f"{code}x{n}" for code, n in sorted(seen.items())),
                    str(sum(c.lost for c in group)),
                    str(sum(c.doubled for c in group)),
                    str(sum(c.left_running for c in group)),
                    "yes"
                    if not bad and not any(c.lost or c.doubled or c.left_running for c in group)
                    else "NO",
                )
            )
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["Reliability" + (" (full)" if FULL else f" (sample, seed {SEED})")]
        for r in [header, *rows]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        verdict = "all cells 0 and every exit code as documented"
        lines.append(verdict if not self.violations() else f"{len(self.violations())} VIOLATIONS")
        return lines
