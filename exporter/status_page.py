"""The HTML page at `/`: the node's verdict at the top, then each probe's, readable at 3 a.m.

Each probe shows its judged state, the reason lines `check_registry <probe> -v`
prints, and when its reading was taken. A probe that could not measure
(UNKNOWN) reads differently from one that measured a problem (WARNING,
CRITICAL): in words ("probe failed: could not measure"), in its badge's mark
and in its frame (dashed), never by colour alone. Plain HTML and inline CSS,
no script and nothing fetched from elsewhere: it works offline on a registry
host. Every text from a reading or the config is escaped.
"""

from __future__ import annotations

from html import escape

from exporter.node_status import Evidence, NodeVerdict, ProbeVerdict
from registry_monitor import __version__
from registry_monitor.config import Config
from registry_monitor.judging.lines import clean, item_lines
from registry_monitor.judging.state import State
from registry_monitor.times import when

REFRESH_SECONDS = 15
MARKS = {State.OK: "✔", State.WARNING: "▲", State.CRITICAL: "✖", State.UNKNOWN: "?"}

CSS = """
:root { color-scheme: light dark; --fg: #111; --bg: #fff; --muted: #555; --line: #ccc;
  --ok: #146c2e; --warning: #8a4b00; --warning-bg: #fff1d6; --critical: #a3001b;
  --critical-bg: #ffe3e6; --unknown: #5b2a86; --unknown-bg: #f1e8fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #eee; --bg: #16181b; --muted: #aaa; --line: #444; --ok: #5fd07f;
    --warning: #ffb547; --warning-bg: #3a2a10; --critical: #ff6b7d; --critical-bg: #3d1419;
    --unknown: #c9a4ff; --unknown-bg: #2a1f38; }
}
body { font: 16px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg);
  margin: 0 auto; padding: 1em; max-width: 72em; }
.node { border: 4px solid var(--line); border-radius: 6px; padding: .6em 1em; margin-bottom: 1em; }
.node h1 { font-size: 1.9em; margin: 0; }
.node .summary { font-size: 1.15em; font-weight: 600; margin: .3em 0; overflow-wrap: anywhere; }
ul.problems { margin: .4em 0; padding: 0; list-style: none; font-size: 1.1em; font-weight: 600; }
ul.problems li { padding: .1em .5em; margin: .15em 0; border-left: 6px solid transparent;
  overflow-wrap: anywhere; }
.badge { display: inline-block; min-width: 7.5em; padding: .1em .5em; border-radius: 4px;
  font-weight: 700; letter-spacing: .03em; text-align: center; border: 2px solid; }
h1 .badge { font-size: .8em; margin-right: .4em; vertical-align: middle; }
.probe { border: 1px solid var(--line); border-left-width: 8px; border-radius: 4px;
  padding: .4em .9em; margin: .7em 0; }
.probe h2 { font-size: 1.25em; margin: .1em 0 .3em; }
.probe h2 .name { margin: 0 .4em; }
.kind { font-size: .8em; font-weight: 600; }
.meta { color: var(--muted); font-size: .9em; margin: .3em 0; }
.error { font-weight: 600; overflow-wrap: anywhere; }
ul.reasons { list-style: none; margin: .2em 0; padding: 0;
  font: 14px/1.5 ui-monospace, "DejaVu Sans Mono", monospace; }
ul.reasons li { padding: .05em .5em; border-left: 4px solid transparent;
  overflow-wrap: anywhere; }
ul.reasons li.detail { padding-left: 2em; color: var(--muted); }
.st-ok .badge, .st-ok > .badge { color: var(--ok); }
.st-ok.probe, .st-ok.node { border-color: var(--ok); }
.st-warning .badge { color: var(--warning); background: var(--warning-bg); }
.st-warning.probe, .st-warning.node { border-color: var(--warning); background: var(--warning-bg); }
.st-critical .badge { color: var(--critical); background: var(--critical-bg); }
.st-critical.probe, .st-critical.node { border-color: var(--critical);
  background: var(--critical-bg); }
.st-unknown .badge { color: var(--unknown); background: var(--unknown-bg); border-style: dashed; }
.st-unknown.probe, .st-unknown.node { border-color: var(--unknown); border-style: dashed;
  background: var(--unknown-bg); }
.probe:not(.st-ok) li.st-ok { color: var(--muted); }
ul li.st-warning { border-left-color: var(--warning); font-weight: 700; }
ul li.st-critical { border-left-color: var(--critical); font-weight: 700; }
ul li.st-unknown { border-left-color: var(--unknown); border-left-style: dashed; font-weight: 700; }
.probe.m-failed .kind, .probe.m-pending .kind, .probe.m-partial .kind { color: var(--unknown);
  text-transform: uppercase; }
footer { color: var(--muted); font-size: .9em; margin-top: 1.5em; }
a { color: inherit; }
"""


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def badge(state: State) -> str:
    return f'<span class="badge">{MARKS[state]} {state.name}</span>'


def kind(p: ProbeVerdict) -> str:
    """What stands behind the state, in words: measured, or the probe's own failure."""
    if p.evidence is not Evidence.MEASURED:
        return str(p.evidence.value)
    if p.verdict.state is State.OK:
        return "measured"
    if p.verdict.state is State.UNKNOWN:
        return "measured, but could not be judged"
    return "measured: problem found"


def reading_meta(p: ProbeVerdict, now: float) -> str:
    every = f"; runs every {p.interval_seconds:g} s" if p.interval_seconds else ""
    r = p.reading
    if r is None:
        return f"No reading yet{every}."
    return (
        f"Reading taken {when(r.started_at)} ({ago(now - r.started_at)}), "
        f"took {r.duration_seconds:.3f} s{every}."
    )


def probe_section(p: ProbeVerdict, now: float) -> str:
    state = p.verdict.state.name.lower()
    lines = []
    for item, line in p.lines:
        cls = "detail" if item.detail else f"st-{item.state.name.lower()}"
        lines.append(f'<li class="{cls}">{escape(line)}</li>')
    error = ""
    r = p.reading
    if r is not None and r.error and not any(r.error in line for line in p.reasons):
        error = f'<p class="error">Probe error: {escape(r.error)}</p>'
    return f"""<section class="probe st-{state} m-{p.evidence.name.lower()}" id="probe-{escape(p.name)}">
<h2>{badge(p.verdict.state)} <span class="name">{escape(p.name)}</span> <span class="kind">{escape(kind(p))}</span></h2>
{error}<ul class="reasons">
{"".join(lines)}
</ul>
<p class="meta">{escape(reading_meta(p, now))}</p>
</section>"""  # noqa: E501


def node_summary(node: NodeVerdict) -> str:
    """Every problem on a line of its own, worst first; else the `all` summary."""
    problems = node.problems()
    if not problems:
        return f'<p class="summary">{escape(node.summary)}</p>'
    items = "".join(
        f'<li class="st-{state.name.lower()}">{escape(line)}</li>' for state, line in problems
    )
    return f'<ul class="problems">{items}</ul>'


def failover_section(node: NodeVerdict) -> str:
    """On the standby, first on the page: could it take over now, and at what loss."""
    answer = node.failover
    if answer is None:
        return ""
    v = answer.verdict
    state = v.state.name.lower()
    title = "Failover: ready" if answer.readiness.ready else "Failover: NOT ready"
    lines = []
    for item, line in item_lines(v):
        cls = "detail" if item.detail else f"st-{item.state.name.lower()}"
        lines.append(f'<li class="{cls}">{escape(line)}</li>')
    return f"""<section class="node failover st-{state}" id="failover">
<h1>{badge(v.state)} {escape(title)}</h1>
<p class="summary">{escape(clean(v.summary))}</p>
<ul class="reasons">
{"".join(lines)}
</ul>
<p class="meta">What <code>check_registry failover -v</code> answers now, judged from the
probes' latest readings.</p>
</section>"""


def render(config: Config, node: NodeVerdict) -> str:
    now = node.judged_at
    where = f"{config.node} ({config.role})"
    sections = "\n".join(probe_section(p, now) for p in node.probes)
    state = node.state.name.lower()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>{node.state.name} · registry-monitor {escape(where)}</title>
<style>{CSS}</style></head><body>
{failover_section(node)}
<header class="node st-{state}">
<h1>{badge(node.state)} {escape(where)}</h1>
{node_summary(node)}
<p class="meta">Judged {when(now)} from each probe's latest reading, as
<code>check_registry all</code> judges (thresholds from the config). Refreshes every
{REFRESH_SECONDS} s.</p>
</header>
<main>
{sections}
</main>
<footer><a href="/metrics">/metrics</a> · <a href="/api/status">/api/status</a> ·
registry-monitor {escape(__version__)}</footer>
</body></html>
"""
