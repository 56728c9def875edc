"""Real nginx (Debian nginx-light) as the TLS front of a registry, on loopback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from testbed.daemon import Daemon
from testbed.waiting import free_port, port_open, wait_until

NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
        client_max_body_size 0;
        chunked_transfer_encoding on;
        location /v2/ {{
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 900;
        }}
    }}
}}
"""


class Nginx:
    """nginx terminating TLS for `name` on 127.0.0.1:port and proxying /v2/ to upstream."""

    def __init__(self, workdir: Path, upstream: str, name: str, cert: Path, key: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = name
        self.cert, self.key = cert, key
        self.upstream = upstream
        self.config_path = workdir / "nginx.conf"
        self.write_config()
        self.daemon = Daemon(
            [NGINX_BIN, "-p", str(workdir), "-c", str(self.config_path)], workdir / "stdout.log"
        )

    def write_config(self) -> None:
        self.config_path.write_text(
            CONFIG.format(
                dir=self.workdir,
                port=self.port,
                name=self.name,
                cert=self.cert,
                key=self.key,
                upstream=self.upstream,
            )
        )

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Nginx:
        self.daemon.start()
        try:
            wait_until(lambda: port_open(self.port), 15, f"nginx on port {self.port}")
        except AssertionError:
            tail = self.daemon.log_tail() + (self.workdir / "error.log").read_text(errors="replace")
            self.daemon.stop()
            raise AssertionError(f"nginx did not start:\n{tail}") from None
        return self

    def reload(self) -> None:
        """Re-read config and certificates, as `systemctl reload nginx` does."""
        subprocess.run(
            [NGINX_BIN, "-p", str(self.workdir), "-c", str(self.config_path), "-s", "reload"],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self) -> None:
        self.daemon.stop()
