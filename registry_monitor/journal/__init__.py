"""The registry's own request log in the systemd journal: request durations.

entries.py  one `journalctl -o json` line -> a request the registry answered, or None
follow.py   the unit's entries followed by cursor, the cursor kept in state_dir
"""
