"""A verdict's reason lines, exactly as `check_registry <probe> -v` prints them.

One line per item: `[STATE] text`, or `- text` for an example that names the
item before it. Icinga splits every output line at `|` and reads what follows
as perfdata, so no line may carry one: it becomes `/`. Multi-line texts (a
config error lists each bad key) are folded into the one line they belong to.
The exporter's /api/status and status page show the same lines.
"""

from __future__ import annotations

from registry_monitor.judging.verdict import Item, Verdict


def clean(text: str) -> str:
    """One line without `|`: lines after one ending in ':' join with ' ', others with '; '."""
    folded = ""
    for line in (part.strip() for part in text.replace("|", "/").splitlines()):
        if not line:
            continue
        if folded:
            folded += " " if folded.endswith(":") else "; "
        folded += line
    return folded


def item_lines(verdict: Verdict, prefix: str = "") -> list[tuple[Item, str]]:
    """Each item with its -v line; `prefix` (e.g. 'disk: ') goes before an item's text."""
    lines = [
        (i, f"- {i.text}" if i.detail else f"[{i.state.name}] {prefix}{i.text}")
        for i in verdict.items
    ]
    return [(item, clean(line)) for item, line in lines if line.strip()]


def reason_lines(verdict: Verdict, prefix: str = "") -> list[str]:
    """The -v lines of one verdict."""
    return [line for _, line in item_lines(verdict, prefix)]
