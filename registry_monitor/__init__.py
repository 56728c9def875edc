"""registry-monitor: monitoring for an active/standby Docker registry pair."""

__version__ = "0.1.0"
