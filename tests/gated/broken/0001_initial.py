"""The same first migration as ``tests/gated/migrations``."""

import importlib

Migration = importlib.import_module("tests.gated.migrations.0001_initial").Migration
