"""Files the core reads and keeps: opened without blocking, state in state_dir, private caches
and what they were computed by, and what a standby remembers of its active."""
