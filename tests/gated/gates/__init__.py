"""The gated app's migrations with the gate (deploy 3 of the recipe), for the tests that
point ``MIGRATION_MODULES`` here: the test database is made from ``migrations/`` alone, so that
creating it never waits on a backfill."""
