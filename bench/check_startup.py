"""How fast check_registry answers, as ratios to the interpreter's floor, in one run.

The floor is `python -c 'import psutil'` (the interpreter with the one library
a local check cannot do without), run in the venv the checks run in: this tree
and the runtime set the package bundles (deploy/requirements.txt), psutil's
pinned version included, installed as deployed. Every command runs in turns with the
others (one round = each command once), so load on the machine falls on all
of them alike; the figures are medians of whole-process wall times:

  - the floor, `python -c pass`, and monitoring-plugins' check_disk and
    check_http -C on the same targets, for scale;
  - each single-probe check that does no I/O beyond this host (disk,
    services, storage, sync): goal <= 2x the floor;
  - cert and api (TLS to a local registry): goal <= 3x the floor plus the
    handshakes' own time (one verified handshake each, timed in this process
    with a fresh context, as the check makes it);
  - all (on an active node: disk services api cert storage sync pull parity):
    goal <= the slowest of those single checks plus 20 %.

Everything runs from a non-editable install of this tree, made for the run in
a venv of its own with deploy/requirements.txt and nothing else: as deployed.
The development venv's editable install adds an import hook to every start,
the floor's included, which would flatter the ratios.

services and sync ask a fake systemctl, a Python script (a real systemctl is
a compiled program): their rows are also shown less the fake's runs, counted
(one more run of each check after the rounds, with a counting wrapper on PATH).

    python bench/check_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import getpass
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for testbed

from testbed.certs import issue, write_ca
from testbed.images import Pusher
from testbed.registry import Registry
from testbed.rsync import SyncUnit
from testbed.systemd import FakeSystemd

PLUGINS = Path("/usr/lib/nagios/plugins")
NAME = "registry.test"
LOCAL_GOAL = 2.0
TLS_GOAL = 3.0
ALL_GOAL = 1.2
# What `check_registry all` runs on the benchmark's active node (write_probe off)
ALL_ACTIVE = ("disk", "services", "api", "cert", "storage", "sync", "pull", "parity")


def handshake_ms(port: int, ca_file: Path, runs: int) -> float:
    """Median of connect + one verified TLS handshake, with a fresh context each."""
    times = []
    for _ in range(max(5, runs)):
        began = time.perf_counter()
        ctx = ssl.create_default_context(cafile=str(ca_file))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname=NAME),
        ):
            pass
        times.append(1000 * (time.perf_counter() - began))
    return statistics.median(times)


def in_turns(
    rows: dict[str, list[str]], runs: int, env: dict[str, str], cwd: Path | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """(median wall ms, mean CPU ms: user + system) of each command, all run in turns,
    after one warm-up round (which also fills check_registry's cache of the parsed
    config). CPU time, counted in clock ticks, is the steadier figure on a busy host.
    `cwd`: where `python -c` runs, first on its sys.path."""
    times: dict[str, list[float]] = {label: [] for label in rows}
    cpu: dict[str, list[float]] = {label: [] for label in rows}
    for label, argv in rows.items():
        done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=cwd)
        print(f"  warm-up {label}: exit {done.returncode} {done.stdout[:60]!r}")
    for _ in range(runs):
        for label, argv in rows.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=False, env=env, cwd=cwd)
            times[label].append(1000 * (time.perf_counter() - began))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            cpu[label].append(1000 * used)
    return (
        {label: statistics.median(t) for label, t in times.items()},
        {label: statistics.mean(t) for label, t in cpu.items()},
    )


def fake_runs(argv: list[str], env: dict[str, str], systemd: FakeSystemd, work: Path) -> int:
    """How many times one run of argv starts the fake systemctl (a recording one ahead on
    PATH)."""
    log = work / "counting.log"
    wrapper = systemd.recorded_systemctl(work / "counting", log)
    log.unlink(missing_ok=True)
    counted = {**env, "PATH": f"{wrapper.parent}{os.pathsep}{env['PATH']}"}
    subprocess.run(argv, capture_output=True, check=False, env=counted)
    return len(log.read_text().splitlines()) if log.exists() else 0


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "deploy" / "requirements.txt"
# What pip writes as the check_registry command (project.scripts), for the install below.
SCRIPT = """#!{python}
import sys
from checks.__main__ import main
if __name__ == "__main__":
    sys.exit(main())
"""


def deployed_install(work: Path) -> tuple[str, str]:
    """(python, check_registry) of a non-editable install of this tree in a venv of its own,
    with the runtime set the package bundles (deploy/requirements.txt) and nothing else:
    the floor's psutil, and what each check imports, are those a registry host runs."""
    venv = work / "deployed"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site),
            *("-r", str(REQUIREMENTS), str(ROOT)),
        ],
        check=True,
    )
    check = venv / "bin" / "check_registry"
    check.write_text(SCRIPT.format(python=python))
    check.chmod(0o755)
    return str(python), str(check)


def pinned(name: str) -> str:
    """The version deploy/requirements.txt pins for a distribution."""
    for line in REQUIREMENTS.read_text().splitlines():
        if line.lower().startswith(f"{name.lower()}=="):
            return line.split("==", 1)[1]
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="check-bench-") as tmp:
        work = Path(tmp)
        python, check = deployed_install(work)
        ca = trustme.CA()
        ca_file = write_ca(ca, work / "ca.pem")
        cert = issue(ca, work / "cert", NAME, days=60)
        registry = Registry(work / "registry", tls=(cert.cert, cert.key)).start()
        backend = Registry(work / "backend", data_dir=registry.data_dir).start()
        systemd = FakeSystemd(work / "systemd")
        # the registry's main process is the real one: the services check reads its figures
        proc = registry.daemon.proc
        systemd.set_unit(
            "docker-registry.service",
            started_at=time.time() - 5,
            main_pid=proc.pid if proc is not None else 0,
        )
        systemd.set_unit("nginx.service", started_at=time.time() - 5)
        systemd.set_unit("rsync.service", started_at=time.time() - 5)
        now = time.time()
        SyncUnit(systemd, "rsync://127.0.0.1:1/docker-registry-sync/", Path(".")).record(
            0, now - 30, now - 20
        )
        env = {
            **os.environ,
            **systemd.env,
            "PATH": f"{systemd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        try:
            Pusher(backend.url).push_image("toolforge/python311", "latest")
            common = {
                "data_dir": str(registry.data_dir),
                "backend_url": backend.url,
                "public_url": f"https://{NAME}",
                "public_connect": f"127.0.0.1:{registry.port}",
                "ca_file": str(ca_file),
                "cert_file": str(cert.cert),
                "registry_user": getpass.getuser(),
                "state_dir": str(work / "state"),
                "write_probe": False,
                "canary_images": ["toolforge/python311:latest"],
            }
            active, standby = work / "active.yaml", work / "standby.yaml"
            active.write_text(yaml.safe_dump(common))
            standby.write_text(yaml.safe_dump({**common, "role": "standby"}))
            data = str(registry.data_dir)
            http = [str(PLUGINS / "check_http"), "-H", "127.0.0.1", "-p", str(registry.port)]
            rows = {
                "python -c pass": [python, "-c", "pass"],
                "floor: python -c 'import psutil'": [python, "-c", "import psutil"],
                "python -c 'import requests'": [python, "-c", "import requests"],
                "fake systemctl show": [str(systemd.systemctl), "show", "nginx.service"],
                "check_disk -w 20% -c 10% -p DIR": [
                    str(PLUGINS / "check_disk"),
                    "-w",
                    "20%",
                    "-c",
                    "10%",
                    "-p",
                    data,
                ],
                "check_http -S --sni -C 21,7": [*http, "-S", "--sni", "-C", "21,7"],
                **{
                    f"check_registry {probe}": [check, f"--config={active}", probe]
                    for probe in (*ALL_ACTIVE, "all")
                    if probe != "sync"
                },
                "check_registry sync": [check, f"--config={standby}", "sync"],
            }
            hs = handshake_ms(registry.port, ca_file, args.runs)
            print(
                f"floor: {python} -c 'import psutil': this interpreter with the runtime set "
                f"as deployed (deploy/requirements.txt: psutil {pinned('psutil')}, "
                f"requests {pinned('requests')}), the venv every check below runs in"
            )
            print(f"{args.runs} rounds, each command once a round, after a warm-up round")
            ms, cpu = in_turns(rows, args.runs, env)
            # counted once more after the rounds, in the state the rounds ran in
            runs_of_fake = {
                probe: fake_runs(rows[f"check_registry {probe}"], env, systemd, work)
                for probe in ("services", "sync")
            }
        finally:
            backend.stop()
            registry.stop()

    floor = ms["floor: python -c 'import psutil'"]
    cpu_floor = cpu["floor: python -c 'import psutil'"]
    fake = ms["fake systemctl show"]
    print(f"\n{'command':<40} {'wall ms':>8} {'x floor':>8} {'CPU ms':>8} {'x floor':>8}")
    for label, value in ms.items():
        c = cpu[label]
        print(f"{label:<40} {value:8.1f} {value / floor:8.2f} {c:8.1f} {c / cpu_floor:8.2f}")
    print(f"{'one verified TLS handshake (in process)':<40} {hs:8.1f} {hs / floor:8.2f}")

    print("\ngoals, on wall time (floor = python -c 'import psutil'):")
    for probe in ("disk", "storage", "services", "sync"):
        value = ms[f"check_registry {probe}"]
        line = f"  {probe:<9} {value / floor:5.2f}x floor (goal <= {LOCAL_GOAL}x)"
        ok = value <= LOCAL_GOAL * floor
        if probe in runs_of_fake:
            n = runs_of_fake[probe]
            adjusted = value - n * fake
            line += f"; less its {n} fake systemctl run(s) {adjusted / floor:.2f}x"
            ok = adjusted <= LOCAL_GOAL * floor
        print(f"{line}: {verdict(ok)}")
    for probe in ("cert", "api"):
        value = ms[f"check_registry {probe}"]
        bound = TLS_GOAL * floor + hs
        print(
            f"  {probe:<9} {value:.1f} ms against {TLS_GOAL}x floor + one handshake "
            f"= {bound:.1f} ms ({(value - hs) / floor:.2f}x floor after the handshake): "
            f"{verdict(value <= bound)}"
        )
    singles = {p: ms[f"check_registry {p}"] for p in ALL_ACTIVE}
    slowest = max(singles, key=lambda p: singles[p])
    value = ms["check_registry all"]
    print(
        f"  all       {value:.1f} ms against the slowest of its probes ({slowest}, "
        f"{singles[slowest]:.1f} ms) + 20 % = {ALL_GOAL * singles[slowest]:.1f} ms: "
        f"{verdict(value <= ALL_GOAL * singles[slowest])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
