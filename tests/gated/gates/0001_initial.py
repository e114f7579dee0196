"""The same first migration as ``tests/gated/migrations``: applied when the test database is
made, so that the gate below is the one pending migration."""

import importlib

Migration = importlib.import_module("tests.gated.migrations.0001_initial").Migration
