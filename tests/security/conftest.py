"""The security suite: every boundary driven with hostile and careless input.

`make test` runs a seeded sample of each property (``tests.support.reliability.FULL`` is
false); `make reliability` runs them in full (RELIABILITY=full).
"""
