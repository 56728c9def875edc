"""registry-exporter: the web face (scheduler, /metrics, status page, APIs) on the shared core."""
