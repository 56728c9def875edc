"""How the core talks to what it watches: HTTP (requests, under a whole-call deadline), the
registry's API facts, bounded JSON, and systemd through systemctl."""
