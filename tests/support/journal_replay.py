"""A stand-in for `journalctl --output=json` over recorded entries, for the fast tests of
the journal follower (the real journalctl and journald are in tests/test_real_host_journal.py).

`write(tmp_path, entries)` makes an executable that, like journalctl, prints the entries
after `--after-cursor C` (exit 1 when C is no entry's), the last with `--lines=1`, all
without either. Lines that are no entry (garbage) are printed in place: journalctl never
writes them, the follower must still survive them. The entries file may be appended to
between runs, as journald does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCRIPT = """#!{python}
import json, sys
lines = open({entries!r}).read().splitlines()
args = sys.argv[1:]
open({calls!r}, "a").write(json.dumps(args) + "\\n")
def cursor(line):
    try:
        return json.loads(line).get("__CURSOR")
    except ValueError:
        return None
if "--lines=1" in args:
    real = [l for l in lines if cursor(l)]
    lines = real[-1:]
elif "--after-cursor" in args:
    after = args[args.index("--after-cursor") + 1]
    at = [i for i, l in enumerate(lines) if cursor(l) == after]
    if not at:
        sys.stderr.write("Failed to seek to cursor: Invalid argument\\n")
        sys.exit(1)
    lines = lines[at[0] + 1:]
for line in lines:
    sys.stdout.write(line + "\\n")
"""


def write(tmp_path: Path, entries: list[str]) -> tuple[Path, Path]:
    """(the executable, the entries file to append to)."""
    store = tmp_path / "entries.json"
    store.write_text("".join(line + "\n" for line in entries))
    script = tmp_path / "journalctl"
    calls = tmp_path / "calls.jsonl"
    script.write_text(SCRIPT.format(python=sys.executable, entries=str(store), calls=str(calls)))
    script.chmod(0o755)
    return script, store


def append(store: Path, entries: list[str]) -> None:
    with store.open("a") as f:
        f.write("".join(line + "\n" for line in entries))


def calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
