"""Real daemons on loopback (registry, nginx, exporter, fake systemctl) for the tests and the demo.

Not installed with the package: it is how the project proves itself.
"""
