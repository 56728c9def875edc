"""Run the real check_registry console script, and read its answer strictly."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.icinga import assert_icinga_reads
from tests.support.perfdata import PerfItem, PluginOutput, parse_output

CHECK_REGISTRY = str(Path(sys.executable).parent / "check_registry")


@dataclass(frozen=True)
class CheckRun:
    exit_code: int
    stdout: str
    output: PluginOutput

    @property
    def state(self) -> str:
        return self.output.state

    @property
    def text(self) -> str:
        return self.output.text

    @property
    def long(self) -> list[str]:
        return self.output.long

    def perf(self, label: str) -> PerfItem:
        return self.output.perfdata[label]


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def run_raw(
    *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_REGISTRY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


def run_check(
    config: Path | None, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> CheckRun:
    """check_registry [--config config] args; stderr must stay empty, stdout well-formed.

    Every answer is read by the strict reader and its perfdata by Icinga 2 itself.
    """
    argv = ([f"--config={config}"] if config else []) + list(args)
    done = run_raw(*argv, timeout=timeout, env=env)
    assert done.stderr == "", f"stderr: {done.stderr}"
    assert "Traceback" not in done.stdout
    output = parse_output(done.stdout, done.returncode)
    assert_icinga_reads(list(output.perfdata.values()))
    return CheckRun(done.returncode, done.stdout, output)
