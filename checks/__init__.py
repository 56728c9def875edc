"""check_registry: Monitoring Plugins-style one-shot checks on the exporter's probes."""
