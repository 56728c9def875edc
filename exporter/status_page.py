"""The HTML page at `/`: one row per probe, readable at a glance at 3 a.m."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from typing import Any

from registry_monitor import __version__
from registry_monitor.config import Config
from registry_monitor.probes.reading import Reading


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def summary(reading: Reading[Any]) -> str:
    """A one-line figure for the page; probes without a summarizer show nothing."""
    value = reading.value
    summarize = getattr(value, "summary", None)
    if callable(summarize):
        return str(summarize())
    return ""


def render(config: Config, probes: tuple[str, ...], readings: Mapping[str, Reading[Any]]) -> str:
    now = time.time()
    rows = []
    for name in probes:
        r = readings.get(name)
        if r is None:
            state, cls, figure, age, error = "PENDING", "pending", "", "", "not run yet"
        else:
            state, cls = ("OK", "ok") if r.ok else ("FAILING", "fail")
            figure, age, error = summary(r), _age(now - r.started_at), r.error or ""
        rows.append(
            f'<tr class="{cls}"><td>{html.escape(name)}</td><td>{state}</td>'
            f"<td>{html.escape(figure)}</td><td>{age}</td><td>{html.escape(error)}</td></tr>"
        )
    title = f"registry-monitor {html.escape(config.node)} ({html.escape(config.role)})"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: .3em .8em; border-bottom: 1px solid #ccc; text-align: left; }}
tr.ok td:nth-child(2) {{ color: #fff; background: #2a7d2a; }}
tr.fail td:nth-child(2) {{ color: #fff; background: #b00020; }}
tr.pending td:nth-child(2) {{ background: #ddd; }}
</style></head><body>
<h1>{title}</h1>
<table><tr><th>probe</th><th>state</th><th>reading</th><th>age</th><th>last error</th></tr>
{"".join(rows)}
</table>
<p><a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a> ·
registry-monitor {__version__} · refreshes every 15 s</p>
</body></html>
"""
