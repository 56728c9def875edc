"""The project's rule files as files: where they are, reading one, and writing one in the
layout every generated rule file shares (PromQL as literal blocks). Below both writers,
alerts/configure.py and alerts/slo.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

ALERTS_DIR = Path(__file__).resolve().parent


def rule_files(directory: Path = ALERTS_DIR) -> list[Path]:
    """The rule files in directory, sorted: not the unit tests, not the Alertmanager example."""
    return sorted(
        p
        for p in directory.glob("*.yaml")
        if not p.name.endswith("_test.yaml") and not p.name.startswith("alertmanager")
    )


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise ValueError(f"{path}: not a Prometheus rule file (no top-level `groups:` list)")
    return doc


def rules(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in doc["groups"]:
        yield from group.get("rules", [])


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as literal blocks, so the output stays readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def dump(doc: dict[str, Any], path: Path, header: str = "") -> None:
    text = yaml.dump(doc, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=1_000_000)
    path.write_text(header + text, encoding="utf-8")


def write_generated(
    argv: Sequence[str] | None,
    prog: str,
    description: str,
    out: Path,
    header: str,
    document: Callable[[], dict[str, Any]],
) -> int:
    """The command of a generated rule file: write `document()` to --out (default `out`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args(argv)
    dump(document(), args.out, header)
    print(args.out)
    return 0
