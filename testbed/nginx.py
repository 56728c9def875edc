"""Real nginx (Debian nginx-light) as the TLS front of a registry, on loopback."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import urllib.request
from pathlib import Path

from registry_monitor.accesslog.formats import LOG_FORMAT
from testbed.daemon import Daemon
from testbed.waiting import free_port, port_open

NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
daemon off;
{user}
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    {log_format}
    {access_log}
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
            # as puppet's site (modules/docker/templates/registry-nginx.conf.erb): reads
            # anonymous, every other method behind basic auth
            {limit_except}
            proxy_pass {upstream};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 900;
        }}
        # the tests' own view of what reached nginx (connections_accepted)
        location = /nginx_status {{
            stub_status;
        }}
    }}
}}
"""


LIMIT_EXCEPT = """limit_except GET HEAD OPTIONS {{
                auth_basic "docker-registry";
                auth_basic_user_file {htpasswd};
            }}"""
PUSH_USER, PUSH_PASSWORD = "builder", "testbed-push-password"


class Nginx:
    """nginx terminating TLS for `name` on 127.0.0.1:port and proxying /v2/ to upstream."""

    def __init__(
        self,
        workdir: Path,
        upstream: str,
        name: str,
        cert: Path,
        key: Path,
        log_format: str | None = None,
        push_open: bool = False,
    ) -> None:
        """log_format: None (no access log), "combined" or "registry_monitor" (docs/traffic.md).
        push_open: without limit_except, anyone may push (the fault the api probe finds)."""
        self.workdir = workdir
        self.push_open = push_open
        self.credentials = (PUSH_USER, PUSH_PASSWORD)  # what a builder pushes with
        self.htpasswd = workdir / "htpasswd.registry"
        self.log_format = log_format
        self.access_log = workdir / "access.log"
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = name
        self.cert, self.key = cert, key
        self.upstream = upstream
        self.config_path = workdir / "nginx.conf"
        self.htpasswd.write_text(f"{PUSH_USER}:{{PLAIN}}{PUSH_PASSWORD}\n")
        self.write_config()
        self.daemon = Daemon(
            [NGINX_BIN, "-p", str(workdir), "-c", str(self.config_path)],
            workdir / "stdout.log",
            more_logs=[workdir / "error.log"],
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
                limit_except="" if self.push_open else LIMIT_EXCEPT.format(htpasswd=self.htpasswd),
                # started as root, workers would run as nobody, who cannot reopen logs
                # under the tests' private temporary directories (USR1)
                user="user root root;" if os.geteuid() == 0 else "",
                # the exact line docs/traffic.md tells operators to put in the site
                log_format=LOG_FORMAT if self.log_format == "registry_monitor" else "",
                access_log=f"access_log {self.access_log} {self.log_format};"
                if self.log_format
                else "access_log off;",
            )
        )

    @property
    def connect(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connections_accepted(self) -> int:
        """How many connections nginx has accepted, by its own count (stub_status),
        the one asking included."""
        ctx = ssl._create_unverified_context()  # noqa: S323 - the test's own count, not a check
        url = f"https://127.0.0.1:{self.port}/nginx_status"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as response:
            text = response.read().decode()
        # Active connections: 1
        # server accepts handled requests
        #  7 7 7
        return int(text.splitlines()[2].split()[0])

    def start(self) -> Nginx:
        self.daemon.start_and_wait(lambda: port_open(self.port), 15, f"nginx on port {self.port}")
        return self

    def reload(self) -> None:
        """Re-read config and certificates, as `systemctl reload nginx` does."""
        self._signal("reload")

    def reopen_logs(self) -> None:
        """SIGUSR1, as logrotate's postrotate does: nginx reopens its log files."""
        self._signal("reopen")

    def _signal(self, name: str) -> None:
        """`nginx -s <name>` to the running master."""
        subprocess.run(
            [NGINX_BIN, "-p", str(self.workdir), "-c", str(self.config_path), "-s", name],
            check=True,
            capture_output=True,
            timeout=10,
        )

    def stop(self) -> None:
        self.daemon.stop()
