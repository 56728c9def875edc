"""Grafana dashboards for the registry pair, generated from Python (see build.py)."""
