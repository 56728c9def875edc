"""docs/deployment.md's virtualenv install, run as written (into a temporary prefix).

The commands are read from the document itself, so the page and the test cannot
drift apart. Debian's own python3 is used where there is one: it is the
interpreter that refuses a system-wide `pip install` (PEP 668).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from testbed.mounts import OwnFilesystem

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "deployment.md"
PREFIX = "/opt/registry-monitor"


def venv_commands() -> list[list[str]]:
    """The install block's commands that build the virtualenv (not the host's set-up)."""
    text = DOC.read_text()
    section = text[text.index("## Without a package: a virtualenv") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "docs/deployment.md lost its virtualenv install block"
    wanted = ("python3 ", PREFIX + "/bin/pip ")
    return [shlex.split(line) for line in block.group(1).splitlines() if line.startswith(wanted)]


def test_the_documented_commands_are_the_ones_run() -> None:
    assert venv_commands() == [
        ["python3", "-m", "venv", PREFIX],
        [f"{PREFIX}/bin/pip", "install", "-r", "deploy/requirements.txt", "."],
    ]


@pytest.mark.timeout(600)
def test_venv_install_gives_both_commands(tmp_path: Path) -> None:
    # a virtualenv takes some 150 MB: on a filesystem of the test's own (where it can
    # mount one), not on whatever room the host's /tmp has left
    disk = OwnFilesystem(tmp_path / "disk", size="1g").start()
    try:
        install_and_run(disk.path)
    finally:
        disk.stop()


def install_and_run(root: Path) -> None:
    prefix = root / "opt" / "registry-monitor"
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    # a copy of the tree as a release would unpack, without the developer's venv and caches
    source = root / "src"
    scratch = root / "tmp"  # pip builds the wheel in TMPDIR: on this filesystem too
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    for argv in venv_commands():
        argv = [a.replace(PREFIX, str(prefix)) for a in argv]
        if argv[0] == "python3":
            argv[0] = python
        done = subprocess.run(
            argv, cwd=source, env=env, capture_output=True, text=True, check=False, timeout=540
        )
        assert done.returncode == 0, f"{argv}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    exporter = subprocess.run(
        [prefix / "bin" / "registry-exporter", "--version"], capture_output=True, text=True
    )
    check = subprocess.run(
        [prefix / "bin" / "check_registry", "--version"], capture_output=True, text=True
    )
    version = subprocess.run(
        [sys.executable, "-c", "import registry_monitor; print(registry_monitor.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (exporter.returncode, exporter.stdout.split()[:2]) == (
        0,
        ["registry-exporter", version],
    )
    assert (check.returncode, check.stdout.split()[:2]) == (3, ["check_registry", version])
