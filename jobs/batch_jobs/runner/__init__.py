"""The ``job`` runner: maps ``job <name> [args]`` onto the management command ``<name>``."""
