"""The write probe's canary blob: the fixed bytes it pushes into write_canary_repository
every run, and their digest, which the standby's comparison leaves out (monitoring, not
data). Below both probes, so that neither imports the other."""

from __future__ import annotations

import hashlib

# Fixed content: the same digest every run, and recognisable on disk.
CANARY_BLOB = b"registry-monitor write canary: a fixed blob, uploaded again and again\n"
CANARY_DIGEST = "sha256:" + hashlib.sha256(CANARY_BLOB).hexdigest()
