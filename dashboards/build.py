"""Write the dashboards as raw Grafana dashboard JSON beside this file.

    python -m dashboards.build        # or: make dashboards

The files are what Grafana's file provisioning loads (provisioning.yaml):
the dashboard model itself, not the SDK's resource manifest, with sorted keys
so a change to the generator shows as a small diff. tests/test_dashboards.py
fails when the committed files differ from what this writes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from dashboards.node_detail import node_detail
from dashboards.overview import overview
from dashboards.panels import NODE_DETAIL_UID, OVERVIEW_UID

HERE = Path(__file__).resolve().parent

DASHBOARDS: dict[str, Callable[[], builders.Dashboard]] = {
    f"{OVERVIEW_UID}.json": overview,
    f"{NODE_DETAIL_UID}.json": node_detail,
}


def number_panels(dashboard: model.Dashboard) -> model.Dashboard:
    """Stable panel ids in layout order (Grafana would invent them on load)."""
    for index, panel in enumerate(dashboard.panels or [], start=1):
        panel.id_val = index
    return dashboard


def render(build: Callable[[], builders.Dashboard]) -> str:
    dashboard = number_panels(build().build())
    return json.dumps(dashboard, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def rendered() -> dict[str, str]:
    """File name -> the JSON the generator writes for it."""
    return {name: render(build) for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="directory to write to (default: dashboards/)"
    )
    args = parser.parse_args(argv)
    for name, text in rendered().items():
        path = args.out / name
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
