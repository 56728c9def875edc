"""Alert rules (the YAML files here) and alerts.configure, which writes them for a deployment."""
