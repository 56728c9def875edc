"""The exporter's memory when a registry or the peer exporter sends hostile JSON.

    python -m bench.hostile_peer [--manifest-mb 16.5] [--items 15000] [--rounds 3]
                                 [--parity-format 2] [--code DIR]

Runs the real exporter as a standby against a fake registry and a fake
active exporter (one stdlib HTTP server on loopback), twice: *calm* (a small
manifest, a description of 5 items) and *hostile* (the canary's manifest is
MANIFEST_MB of `{},` with no Content-Length, as a chunked answer; the
active's `/api/parity` describes ITEMS items). Waits for ROUNDS readings of
the pull and parity probes, then prints the exporter's peak RSS (VmHWM, so
no spike between samples is missed), its RSS then, the pull probe's verdict
on the canary, and the parity series `/metrics` exports. The unit's
MemoryHigh is 200M and MemoryMax 300M (deploy/registry-exporter.service).

`--code DIR` runs the exporter from another checkout's source (PYTHONPATH),
e.g. `git archive main | tar -x -C /tmp/before`, to measure before a change;
`--parity-format 1` for code that still reads format 1 descriptions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.harness import peak_rss_mb, pid_of
from testbed.exporter import Exporter
from testbed.systemd import FakeSystemd
from testbed.waiting import wait_until

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_BLOB = b"{}"
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG_BLOB).hexdigest()
TOKEN = "bench-token-0123456789abcdef"


class Fake:
    """What the fake registry and the fake active answer."""

    def __init__(self, manifest: bytes, description: bytes) -> None:
        self.manifest, self.description = manifest, description


def handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def chunked(self, body: bytes, kind: str) -> None:
            """No Content-Length: a cap must stop the body as it arrives."""
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            step = 1 << 20
            try:
                for i in range(0, len(body), step):
                    part = body[i : i + step]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True  # the client stopped reading: as it should

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/v2/":
                self.send(200, b"{}")
            elif path == "/v2/_catalog":
                self.send(200, b'{"repositories":["canary"]}')
            elif path == "/v2/canary/manifests/latest":
                if self.command == "HEAD":
                    self.send(200, b"", MANIFEST_TYPE)
                else:
                    self.chunked(fake.manifest, MANIFEST_TYPE)
            elif path == f"/v2/canary/blobs/{CONFIG_DIGEST}":
                self.send(200, CONFIG_BLOB, "application/octet-stream")
            elif path == "/api/parity":
                self.send(200, fake.description)
            else:
                self.send(404, b'{"errors":[]}')

        do_HEAD = do_GET

    return Handler


def description(items: int, fmt: int) -> bytes:
    listed = [{"item": f"item{n:05d}", "kind": "file", "digest": None} for n in range(items)]
    return json.dumps(
        {
            "format": fmt,
            "node": "active",
            "role": "active",
            "generated_at": time.time(),
            "items": listed,
        }
    ).encode()


def scenario(name: str, fake: Fake, work: Path, rounds: int, code: str | None) -> dict[str, Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    systemd = FakeSystemd(work / name / "systemd")
    env = {**systemd.env, "PATH": f"{systemd.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if code:
        env["PYTHONPATH"] = code
    data = work / name / "data"
    data.mkdir(parents=True)
    config = {
        "node": "standby",
        "role": "standby",
        "data_dir": str(data),
        "backend_url": url,
        "public_url": url,
        "cert_file": None,
        "canary_images": ["canary:latest"],
        "active_exporter_url": url,
        "api_token": TOKEN,
        "state_dir": str(work / name / "state"),
        "parity_files": {},
        "intervals": {"pull": 10, "parity": 10},
        "timeouts": {"pull": 10, "parity": 10},
    }
    exporter = Exporter(work / name / "exporter", config, env=env)
    try:
        exporter.start()
        pid = pid_of(exporter)
        since = time.time()
        for _ in range(rounds):
            pull = exporter.wait_reading("pull", since, timeout=120)
            parity = exporter.wait_reading("parity", since, timeout=120)
            since = max(pull["started_at"], parity["started_at"])
        wait_until(lambda: exporter.healthy(), 10, "the exporter alive")
        text = exporter.metrics_text()
        series = sum(
            1 for line in text.splitlines() if line.startswith("registry_monitor_parity_match{")
        )
        rest = [
            line
            for line in text.splitlines()
            if line.startswith("registry_monitor_parity_items_uncompared")
        ]
        image = (pull.get("value") or {}).get("images", [{}])[0]
        return {
            "peak_mib": peak_rss_mb(pid),
            "rss_mib": rss_mb(pid),
            "pull": image.get("error") or ("up" if image.get("up") else pull.get("error")),
            "parity_series": series,
            "uncompared": rest[0].split()[-1] if rest else "-",
            "parity": parity.get("error") or "ok",
        }
    finally:
        exporter.stop()
        server.shutdown()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest-mb", type=float, default=16.5)
    parser.add_argument("--items", type=int, default=15_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parity-format", type=int, default=2)
    parser.add_argument("--code", help="run the exporter from this source tree (PYTHONPATH)")
    args = parser.parse_args()
    count = int(args.manifest_mb * 1e6) // 3
    hostile_manifest = b'{"schemaVersion":2,"x":[' + b"{}," * (count - 1) + b"{}]}"
    calm_manifest = json.dumps(
        {"schemaVersion": 2, "config": {"digest": CONFIG_DIGEST, "size": 2}, "layers": []}
    ).encode()
    plan = {
        "calm": Fake(calm_manifest, description(5, args.parity_format)),
        "hostile": Fake(hostile_manifest, description(args.items, args.parity_format)),
    }
    print(f"code: {args.code or 'this checkout'}; {args.rounds} rounds of pull and parity")
    print(
        f"hostile: a {len(hostile_manifest) / 1e6:.1f} MB manifest (chunked), "
        f"a {len(plan['hostile'].description) / 1e6:.2f} MB description of {args.items} items"
    )
    print(
        "| scenario | peak RSS MiB | RSS after MiB | parity_match series "
        "| uncompared | pull of the canary | parity reading |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        for name, fake in plan.items():
            r = scenario(name, fake, Path(tmp), args.rounds, args.code)
            print(
                f"| {name} | {r['peak_mib']:.0f} | {r['rss_mib']:.0f} "
                f"| {r['parity_series']} | {r['uncompared']} | {r['pull']} | {r['parity']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
