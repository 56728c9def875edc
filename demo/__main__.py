"""Start the demo, print where to look, run until Ctrl-C, then stop everything."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import trustme

from testbed.certs import issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.registry import Registry
from testbed.systemd import FakeSystemd
from testbed.waiting import free_port, port_open

ROOT = Path("demo-run")
DASHBOARDS = Path("dashboards").resolve()
PUBLIC_NAME = "localhost"


def preferred_port(port: int) -> int:
    return port if not port_open(port) else free_port()


class Demo:
    def __init__(self, root: Path) -> None:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self.root = root.resolve()
        self.stoppers: list[Any] = []
        self.systemd = FakeSystemd(self.root / "systemd")
        self.units: dict[str, Any] = {}  # unit -> daemon whose liveness it mirrors
        self.stop_event = threading.Event()

    def start_active(self) -> dict[str, Any]:
        ca = trustme.CA()
        self.ca_file = write_ca(ca, self.root / "ca.pem")
        cert = issue(
            ca, self.root / "acmecerts", PUBLIC_NAME, days=60, stem="ec-prime256v1.chained"
        )
        registry = Registry(self.root / "active").start()
        self.stoppers.append(registry)
        nginx = Nginx(self.root / "nginx", registry.url, PUBLIC_NAME, cert.cert, cert.key).start()
        self.stoppers.append(nginx)
        self.units = {"docker-registry.service": registry.daemon, "nginx.service": nginx.daemon}
        self.mirror_units()
        pusher = Pusher(registry.url)
        amd = pusher.push_image("toolforge-python311-sssd-base", "latest")
        pusher.push_image("toolforge-node18-sssd-base", "latest")
        pusher.push_image("toolforge-php82-sssd-web", "latest")
        arm = pusher.push_image("toolforge-jdk17-sssd-base", "arm64")
        pusher.push_index("toolforge-jdk17-sssd-base", "latest", [arm])
        del amd
        self.registry, self.nginx = registry, nginx
        return {
            "node": "demo-registry-active",
            "role": "active",
            "data_dir": str(registry.data_dir),
            "backend_url": registry.url,
            "public_url": f"https://{PUBLIC_NAME}:{nginx.port}",
            "ca_file": str(self.ca_file),
            "cert_file": str(cert.cert),
            "canary_images": [
                "toolforge-python311-sssd-base:latest",
                "toolforge-jdk17-sssd-base:latest",
            ],
            "state_dir": str(self.root / "state-active"),
        }

    def mirror_units(self) -> None:
        """Keep the fake systemd's view in step with the demo daemons."""
        started: dict[str, float] = {}
        for unit in self.units:
            started[unit] = time.time()
            self.systemd.set_unit(unit, "active", started_at=started[unit])

        def loop() -> None:
            seen = {unit: True for unit in self.units}
            while not self.stop_event.wait(1):
                for unit, daemon in self.units.items():
                    running = daemon.running
                    if running != seen[unit]:
                        seen[unit] = running
                        if running:
                            started[unit] = time.time()
                        self.systemd.set_unit(
                            unit, "active" if running else "failed", started_at=started[unit]
                        )

        threading.Thread(target=loop, daemon=True).start()

    def start_exporter(self, name: str, config: dict[str, Any], port: int) -> Exporter:
        exporter = Exporter(self.root / name, config, env=self.systemd.env | {"PATH": self.path()})
        exporter.port = port
        exporter.url = f"http://127.0.0.1:{port}"
        exporter.daemon.argv[-1] = f"127.0.0.1:{port}"
        exporter.start(wait_for=("disk", "api"))
        self.stoppers.append(exporter)
        return exporter

    def path(self) -> str:
        import os

        return f"{self.systemd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"

    def stop(self) -> None:
        self.stop_event.set()
        for daemon in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                daemon.stop()


def main() -> int:
    demo = Demo(ROOT)
    try:
        active_config = demo.start_active()
        active = demo.start_exporter("exporter-active", active_config, preferred_port(9623))
        print(
            f"""
registry-monitor demo is running (everything on 127.0.0.1, files in {demo.root}).

  Registry (backend)   {demo.registry.url}/v2/_catalog
  Registry via nginx   https://{PUBLIC_NAME}:{demo.nginx.port}/v2/   (CA: {demo.ca_file})
  Exporter status page {active.url}/
  Exporter metrics     {active.url}/metrics
  Exporter JSON        {active.url}/api/status

Try it:
  curl -s {active.url}/metrics | grep registry_monitor_api_up
  kill $(pgrep -f 'docker-registry serve {demo.registry.config_path}')   # watch api_up fall to 0
  curl --cacert {demo.ca_file} https://{PUBLIC_NAME}:{demo.nginx.port}/v2/_catalog

Grafana dashboards: in a Grafana whose default data source is the demo Prometheus
(any Prometheus scraping {active.url}/metrics will do), load them with
  sudo cp {DASHBOARDS}/provisioning.yaml /etc/grafana/provisioning/dashboards/registry-monitor.yaml
  sudo mkdir -p /var/lib/grafana/dashboards/registry-monitor
  sudo cp {DASHBOARDS}/*.json /var/lib/grafana/dashboards/registry-monitor/
  sudo systemctl restart grafana-server    # then open /d/registry-pair-overview

Press Ctrl-C to stop the demo.
""",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: demo.stop_event.set())
        with contextlib.suppress(KeyboardInterrupt):
            demo.stop_event.wait()
    finally:
        demo.stop()
        print("demo stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
