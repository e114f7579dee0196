"""Benchmarks: `make bench` (python -m bench) measures every variant in one run."""
