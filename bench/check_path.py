"""Where a local check's start-up goes beyond the floor: its imports as a ladder of processes.

bench/check_startup.py says how far `check_registry disk` is from its goal
(2x `python -c 'import psutil'`); this says what the distance is made of. Each
rung is a whole process that imports what the rung before did plus one group
of the modules the disk check loads, in the order it loads them; the last
rungs are the check's whole import path and the check itself (a cached
config, one disk reading). All run in turns, in the same deployed venv as
check_startup.py (this tree and deploy/requirements.txt, installed
non-editably), so each rung's step is what that group costs a real start:
import, class definitions and all, without `-X importtime`'s own overhead.

A rung whose modules the disk check does not load is left out of the ladder
(and named), so that the ladder measures the path the check takes.

    python bench/check_path.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for bench and testbed

from bench.check_startup import LOCAL_GOAL, deployed_install, in_turns

# (label, modules added by the rung), in the order the disk check loads them
RUNGS: list[tuple[str, tuple[str, ...]]] = [
    ("floor: psutil", ("psutil",)),
    ("+ typing", ("typing",)),
    ("+ dataclasses (inspect, ast, dis, tokenize)", ("dataclasses",)),
    ("+ pathlib, argparse, pickle, threading", ("pathlib", "argparse", "pickle", "threading")),
    ("+ registry_monitor.config (the Config's types)", ("registry_monitor.config",)),
    ("+ the rest of the check path", ("checks.plugin",)),
]

LOADED = """
import sys, runpy
sys.argv = ["check_registry", "--config", {config!r}, "disk"]
try:
    runpy.run_module("checks", run_name="__main__")
except SystemExit:
    pass
print(" ".join(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by_disk(python: str, config: Path, work: Path) -> set[str]:
    """The modules one run of the disk check has loaded when it ends."""
    done = subprocess.run(
        [python, "-c", LOADED.format(config=str(config))],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
    )
    return set(done.stderr.split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="check-path-") as tmp:
        work = Path(tmp)
        python, check = deployed_install(work)
        (work / "data").mkdir()
        config = work / "config.yaml"
        config.write_text(
            f"role: standby\ndata_dir: {work / 'data'}\nstate_dir: {work / 'state'}\n"
            "registry_user: null\n"
        )
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "cache")}
        loaded = loaded_by_disk(python, config, work)
        rows: dict[str, list[str]] = {"python -c pass": [python, "-c", "pass"]}
        modules: list[str] = []
        left: list[str] = []  # rungs whose modules the check no longer loads
        for label, added in RUNGS:
            if not all(m in loaded for m in added):
                left.append(label)
                continue
            modules.extend(added)
            rows[label] = [python, "-c", "import " + ", ".join(modules)]
        rows["check_registry disk (cached config)"] = [check, f"--config={config}", "disk"]
        # from `work`: `python -c` puts its working directory first on sys.path, and this
        # tree's sources (uncompiled where bytecode is not written) must not stand in for
        # the installed ones
        ms, _ = in_turns(rows, args.runs, env, cwd=work)

    print(f"{args.runs} rounds, each command once a round, after a warm-up round")
    floor = ms["floor: psutil"]
    print(f"\n{'rung':<50} {'wall ms':>8} {'step ms':>8} {'x floor':>8}")
    previous = None
    for label, value in ms.items():
        step = "" if previous is None else f"{value - previous:8.1f}"
        print(f"{label:<50} {value:8.1f} {step:>8} {value / floor:8.2f}")
        previous = value
    if left:
        print(f"\nleft out, as the disk check does not load them: {'; '.join(left)}")
    goal = LOCAL_GOAL * floor
    disk = ms["check_registry disk (cached config)"]
    print(f"\ndisk: {disk:.1f} ms against {LOCAL_GOAL}x floor = {goal:.1f} ms: ", end="")
    print("met" if disk <= goal else f"MISSED by {disk - goal:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
