"""Start the demo, print where to look, run until Ctrl-C, then stop everything."""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import trustme

from alerts.configure import ALERTS_DIR, rule_files
from testbed.certs import issue, write_ca
from testbed.exporter import Exporter
from testbed.images import Pusher
from testbed.nginx import Nginx
from testbed.pair import PARITY_IGNORE_LINES
from testbed.prometheus import JOB, Alertmanager, Prometheus, static_scrape_config
from testbed.registry import Registry
from testbed.rsync import RsyncDaemon, SyncUnit
from testbed.systemd import FakeSystemd
from testbed.waiting import free_port, port_open

ROOT = Path("demo-run")
DASHBOARDS = Path("dashboards").resolve()
PUBLIC_NAME = "localhost"
SYNC_EVERY = 60.0  # the real timer runs every 10 minutes
# The demo's registries run as this user: their files are not foreign (the owner
# sweep, and RegistryForeignOwnerFiles in the demo Prometheus, stay quiet).
REGISTRY_USER = getpass.getuser()
FAST = {"storage": 10, "standby": 10, "sync": 10}  # probe intervals (and time-outs) in the demo


def preferred_port(port: int) -> int:
    return port if not port_open(port) else free_port()


def parity(registry: Registry, nginx: Nginx) -> dict[str, Any]:
    """The files both nodes must hold alike, their node-specific lines declared."""
    return {
        "parity_files": {
            "registry_config": str(registry.config_path),
            "nginx_site": str(nginx.config_path),
        },
        "parity_ignore_lines": PARITY_IGNORE_LINES,
    }


class Demo:
    def __init__(self, root: Path) -> None:
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self.root = root.resolve()
        self.stoppers: list[Any] = []
        self.systemd = FakeSystemd(self.root / "systemd")
        self.standby_systemd = FakeSystemd(self.root / "systemd-standby")  # another host
        self.units: dict[str, Any] = {}  # unit -> daemon whose liveness it mirrors
        self.stop_event = threading.Event()
        self.ca = trustme.CA()
        self.ca_file = write_ca(self.ca, self.root / "ca.pem")
        self.exporters: list[Exporter] = []  # every exporter started; Prometheus scrapes them all

    def start_active(self) -> dict[str, Any]:
        ca = self.ca
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
        jdk = pusher.push_image("toolforge-jdk17-sssd-base", "amd64")
        arm = pusher.push_image("toolforge-jdk17-sssd-base", "arm64", layers=[b"arm64 layer"])
        pusher.push_index("toolforge-jdk17-sssd-base", "latest", [jdk, arm])
        del amd
        self.registry, self.nginx, self.cert = registry, nginx, cert
        return {
            "node": "demo-registry-active",
            "role": "active",
            "data_dir": str(registry.data_dir),
            "backend_url": registry.url,
            "public_url": f"https://{PUBLIC_NAME}:{nginx.port}",
            "ca_file": str(self.ca_file),
            "cert_file": str(cert.cert),
            "cert_key_file": str(cert.key),
            **parity(registry, nginx),
            "canary_images": [
                "toolforge-python311-sssd-base:latest",
                "toolforge-jdk17-sssd-base:latest",
            ],
            "state_dir": str(self.root / "state-active"),
            "registry_user": REGISTRY_USER,
            "intervals": {"storage": FAST["storage"]},
            "timeouts": {"storage": FAST["storage"]},
        }

    def start_standby(self, active_exporter_url: str) -> dict[str, Any]:
        """A second registry (own data dir and nginx), fed by real rsync from the active's."""
        cert = self.cert  # one certificate for the public name on both nodes, as acme-chief does
        self.rsyncd = RsyncDaemon(self.root / "rsyncd", self.registry.data_dir).start()
        self.stoppers.append(self.rsyncd)
        self.systemd.set_unit("rsync.service", "active")  # the active's daemon, as on the hosts
        standby = Registry(self.root / "standby").start()
        self.stoppers.append(standby)
        nginx = Nginx(
            self.root / "nginx-standby", standby.url, PUBLIC_NAME, cert.cert, cert.key
        ).start()
        self.stoppers.append(nginx)
        self.mirror_units(
            {"docker-registry.service": standby.daemon, "nginx.service": nginx.daemon},
            self.standby_systemd,
        )
        self.sync = SyncUnit(self.standby_systemd, self.rsyncd.url, standby.data_dir)
        self.sync_once()
        threading.Thread(target=self.sync_loop, daemon=True).start()
        self.standby, self.standby_nginx = standby, nginx
        return {
            "node": "demo-registry-standby",
            "role": "standby",
            "data_dir": str(standby.data_dir),
            "backend_url": standby.url,
            "public_url": f"https://{PUBLIC_NAME}:{nginx.port}",
            "ca_file": str(self.ca_file),
            "cert_file": str(cert.cert),
            "cert_key_file": str(cert.key),
            **parity(standby, nginx),
            "canary_images": [
                "toolforge-python311-sssd-base:latest",
                "toolforge-jdk17-sssd-base:latest",
            ],
            "active_exporter_url": active_exporter_url,
            "state_dir": str(self.root / "state-standby"),
            "registry_user": REGISTRY_USER,
            "intervals": FAST,
            "timeouts": FAST,
        }

    def sync_once(self) -> None:
        begin = time.monotonic()
        done = self.sync.run()
        took = time.monotonic() - begin
        detail = f": {done.stderr.strip().splitlines()[-1]}" if done.returncode else ""
        print(
            f"[{time.strftime('%H:%M:%S')}] sync: rsync exited {done.returncode} in "
            f"{took:.2f}s{detail} (next in {SYNC_EVERY:.0f}s)",
            flush=True,
        )

    def sync_loop(self) -> None:
        while not self.stop_event.wait(SYNC_EVERY):
            self.sync_once()

    def mirror_units(
        self, units: dict[str, Any] | None = None, systemd: FakeSystemd | None = None
    ) -> None:
        """Keep the fake systemd's view in step with the demo daemons."""
        units = self.units if units is None else units
        fake = systemd or self.systemd
        started: dict[str, float] = {}
        for unit in units:
            started[unit] = time.time()
            fake.set_unit(unit, "active", started_at=started[unit])

        def loop() -> None:
            seen = {unit: True for unit in units}
            while not self.stop_event.wait(1):
                for unit, daemon in units.items():
                    running = daemon.running
                    if running != seen[unit]:
                        seen[unit] = running
                        if running:
                            started[unit] = time.time()
                        fake.set_unit(
                            unit, "active" if running else "failed", started_at=started[unit]
                        )

        threading.Thread(target=loop, daemon=True).start()

    def start_exporter(
        self,
        name: str,
        config: dict[str, Any],
        port: int,
        systemd: FakeSystemd | None = None,
        wait_for: tuple[str, ...] = ("disk", "api"),
    ) -> Exporter:
        fake = systemd or self.systemd
        exporter = Exporter(self.root / name, config, env=fake.env | {"PATH": self.path(fake)})
        exporter.port = port
        exporter.url = f"http://127.0.0.1:{port}"
        exporter.daemon.argv[-1] = f"127.0.0.1:{port}"
        exporter.start(wait_for=wait_for)
        self.stoppers.append(exporter)
        self.exporters.append(exporter)
        return exporter

    def start_alerting(self) -> tuple[Prometheus, Alertmanager]:
        """Alertmanager (example routing), Prometheus (alerts/ rules) scraping every exporter."""
        alertmanager = Alertmanager(
            self.root / "alertmanager",
            ALERTS_DIR / "alertmanager.example.yaml",
            port=preferred_port(9093),
        )
        self.stoppers.append(alertmanager)
        alertmanager.start()
        targets = [f"127.0.0.1:{exporter.port}" for exporter in self.exporters]
        prometheus = Prometheus(
            self.root / "prometheus",
            [static_scrape_config(JOB, targets, {"cluster": "demo"})],
            rule_files=rule_files(),
            alertmanagers=[alertmanager.url],
            interval="5s",
            port=preferred_port(9090),
        )
        self.stoppers.append(prometheus)
        prometheus.start()
        return prometheus, alertmanager

    def path(self, systemd: FakeSystemd | None = None) -> str:
        import os

        fake = systemd or self.systemd
        return f"{fake.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"

    def stop(self) -> None:
        self.stop_event.set()
        for daemon in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                daemon.stop()


def main() -> int:
    demo = Demo(ROOT)
    try:
        active_config = demo.start_active()
        active = demo.start_exporter(
            "exporter-active",
            active_config,
            preferred_port(9623),
            wait_for=("disk", "api", "storage"),
        )
        standby_config = demo.start_standby(active.url)
        standby = demo.start_exporter(
            "exporter-standby",
            standby_config,
            preferred_port(9624),
            systemd=demo.standby_systemd,
            wait_for=("storage", "sync", "standby"),
        )
        (demo.root / "demo.json").write_text(
            json.dumps({"active_registry": demo.registry.url, "standby_registry": demo.standby.url})
        )
        watch = (
            f'watch -n 5 "curl -s {standby.url}/metrics | '
            "grep -E '^registry_monitor_(standby_|sync_last_success)'\""
        )
        prometheus, alertmanager = demo.start_alerting()
        check = Path(sys.executable).parent / "check_registry"

        def check_line(exporter: Exporter, fake: FakeSystemd, probe: str) -> str:
            env = f"FAKE_SYSTEMD_DIR={fake.state_dir} PATH={fake.bin_dir}:$PATH"
            return f"env {env} {check} --config {exporter.config_path} {probe} -v"

        print(
            f"""
registry-monitor demo is running (everything on 127.0.0.1, files in {demo.root}).

Active node
  Registry (backend)   {demo.registry.url}/v2/_catalog
  Registry via nginx   https://{PUBLIC_NAME}:{demo.nginx.port}/v2/   (CA: {demo.ca_file})
  Exporter status page {active.url}/
  Exporter metrics     {active.url}/metrics
  Exporter JSON        {active.url}/api/status      inventory: {active.url}/api/inventory

Standby node (rsync from the active every {SYNC_EVERY:.0f}s, lines "sync: ..." below)
  Registry (backend)   {demo.standby.url}/v2/_catalog
  Registry via nginx   https://{PUBLIC_NAME}:{demo.standby_nginx.port}/v2/
  rsync module         {demo.rsyncd.url}
  Exporter status page {standby.url}/
  Exporter metrics     {standby.url}/metrics
  Exporter JSON        {standby.url}/api/status

Alerting (cluster="demo")
  Prometheus alerts    {prometheus.url}/alerts   (rules from alerts/, scraping both exporters)
  Alertmanager         {alertmanager.url}/#/alerts   (routing: alerts/alertmanager.example.yaml)

Try it:
  curl -s {active.url}/metrics | grep registry_monitor_api_up
  kill $(pgrep -f 'docker-registry serve {demo.registry.config_path}')   # watch api_up fall to 0
      ... and RegistryBackendDown go pending, then firing at Alertmanager after its for: (2m)
  curl --cacert {demo.ca_file} https://{PUBLIC_NAME}:{demo.nginx.port}/v2/_catalog

Watch the standby's lag move: push to the active, see the lag grow until the next sync
  {sys.executable} -m demo.push toolforge-demo:v1
  {watch}

The same probes as one-shot Monitoring Plugins checks (what Icinga runs), each node's config:
  {check_line(active, demo.systemd, "all")}
  {check_line(standby, demo.standby_systemd, "standby")}

Could the standby take over now, and what would it lose? (read it first before a failover)
  {check_line(standby, demo.standby_systemd, "failover")}

Grafana dashboards: in a Grafana whose default data source is the demo Prometheus
({prometheus.url}), load them with
  sudo cp {DASHBOARDS}/provisioning.yaml /etc/grafana/provisioning/dashboards/registry-monitor.yaml
  sudo mkdir -p /var/lib/grafana/dashboards/registry-monitor
  sudo cp {DASHBOARDS}/*.json /var/lib/grafana/dashboards/registry-monitor/
  sudo systemctl restart grafana-server    # then open /d/registry-pair-overview?var-cluster=demo

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
