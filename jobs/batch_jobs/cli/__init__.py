"""The two console scripts, ``job`` and ``jobctl``: thin shells over the framework and the
operations."""
