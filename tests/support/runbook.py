"""alerts/RUNBOOK.md as links see it: its heading anchors."""

from __future__ import annotations

import re

from alerts.configure import ALERTS_DIR

RUNBOOK = ALERTS_DIR / "RUNBOOK.md"


def runbook_anchors() -> set[str]:
    """GitHub/GitLab heading anchors of RUNBOOK.md."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors
