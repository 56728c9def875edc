"""Benchmarks: scripts that print figures (never run by `make test`)."""
