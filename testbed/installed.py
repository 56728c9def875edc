"""The project's Debian package on a real host, configured as docs/deployment.md says.

The .deb is built once per test session (`make deb`), or taken from
REGISTRY_MONITOR_DEB. Its config is the documented example for the node's role
(deploy/config.<role>.yaml, the package's config.yaml.example) with only the node's own
values changed, installed as README's install steps do.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from testbed.realhost import Host, HostFailed

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "/etc/registry-monitor/config.yaml"
EXPORTER_UNIT = "registry-exporter.service"


def built_package() -> Path:
    """The .deb to install: REGISTRY_MONITOR_DEB, else `make deb` from this tree."""
    given = os.environ.get("REGISTRY_MONITOR_DEB")
    if given:
        return Path(given)
    run = subprocess.run(
        ["make", "-C", str(ROOT), "deb"], capture_output=True, text=True, timeout=1800, check=False
    )
    if run.returncode != 0:
        raise RuntimeError(
            f"make deb exited {run.returncode}:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
        )
    (deb,) = sorted((ROOT / "dist").glob("registry-monitor_*.deb"))
    return deb


def install(host: Host, deb: Path) -> None:
    """`apt-get install ./…deb`, as README says (its dependencies are in the tree)."""
    inside = f"/root/{deb.name}"  # not /tmp: the container mounts its own tmpfs there
    (host.root / inside.lstrip("/")).write_bytes(deb.read_bytes())
    host.run(
        [
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            inside,
        ],
        timeout=300,
    )


def example_config(role: str, **own: Any) -> dict[str, Any]:
    """deploy/config.<role>.yaml with the node's own values set."""
    document = yaml.safe_load((ROOT / "deploy" / f"config.{role}.yaml").read_text())
    assert isinstance(document, dict)
    return {**document, **own}


def configure(host: Host, config: dict[str, Any]) -> None:
    """README's steps: the config in place, group registry-monitor, mode 640; then start."""
    host.write(
        CONFIG, yaml.safe_dump(config, sort_keys=False), owner="root:registry-monitor", mode=0o640
    )
    host.systemctl("restart", EXPORTER_UNIT)


def api_status(host: Host, path: str = "/api/status", token: str | None = None) -> Any:
    """GET the exporter's endpoint from inside the host, with the host's own python3."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    code = (
        "import json, sys, urllib.request; "
        f"r = urllib.request.Request('http://127.0.0.1:9623{path}', headers={headers!r}); "
        "sys.stdout.write(urllib.request.urlopen(r, timeout=20).read().decode())"
    )
    out = host.run(["python3", "-c", code]).stdout
    return json.loads(out) if path.startswith("/api/") else out


def wait_for_readings(host: Host, probes: tuple[str, ...], timeout: float = 180) -> Any:
    """/api/status once every named probe has a reading (awaited, not slept through)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = api_status(host, token=_token(host))
        except HostFailed:
            state = host.show(EXPORTER_UNIT, "ActiveState", "Result")
            if state.get("ActiveState") == "failed":
                log = host.run(
                    ["journalctl", "-u", EXPORTER_UNIT, "--no-pager", "-n", "40"], check=False
                )
                raise HostFailed(f"{host.name}: {EXPORTER_UNIT} failed:\n{log.stdout}") from None
            time.sleep(0.2)
            continue
        readings = probes_of(last)
        if all(readings.get(p, {}).get("ok") is not None for p in probes):
            return last
        time.sleep(0.2)
    raise HostFailed(f"{host.name}: no reading of {probes} in {timeout} s: {last}")


def probes_of(status: Any) -> dict[str, Any]:
    """/api/status's probes by name."""
    return {p["probe"]: p for p in status["probes"]}


def _token(host: Host) -> str | None:
    config = yaml.safe_load((host.root / CONFIG.lstrip("/")).read_text())
    token = config.get("api_token")
    return token if isinstance(token, str) else None
