"""A registry host laid out as Wikimedia's operations/puppet renders it.

Each file below names the puppet source it follows (paths in operations/puppet). What
puppet takes from hiera or DNS (the builders' addresses, the password hash, the nodes'
names) is the test's; everything else is as rendered. Nothing here is edited after the
package is installed except through what the docs tell an operator to do.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import trustme

from testbed.certs import CertFiles, issue
from testbed.realhost import Host

PUBLIC_NAME = "docker-registry.tools.wmflabs.org"
CERT_NAME = "toolforge"  # profile::toolforge::docker::registry::ssl_certificate_name's default
SYNC_TITLE = "docker-registry-sync"
SYNC_UNIT = f"rsync-{SYNC_TITLE}.service"
BUILDER = "10.231.0.250"  # docker::builder_host's address: the one address asked to log in
PUSH_USER = "builder"

# modules/docker/manifests/registry.pp: to_yaml(deep_merge($base_config, $config)) with
# the profile's config (modules/profile/manifests/toolforge/docker/registry.pp):
# filesystem at /srv/registry, delete enabled, 127.0.0.1:5000.
REGISTRY_CONFIG = """---
version: '0.1'
storage:
  filesystem:
    rootdirectory: "/srv/registry"
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
"""

# modules/docker/templates/registry-nginx.conf.erb with use_acme_chief_certs, cors and
# no index_redirect (modules/docker/manifests/registry/web.pp). ssl_ciphersuite()'s
# lines are reduced to the protocols: its dhparam file comes from sslcert::dhparam.
NGINX_SITE = """upstream registry {{
  server 127.0.0.1:5000;
}}

map $http_upgrade $connection_upgrade {{
    default upgrade;
    '' close;
}}

server {{
    listen 443 default_server ssl;
    listen [::]:443 ssl default_server ipv6only=on;
    ssl_certificate /etc/acmecerts/{cert}/live/ec-prime256v1.chained.crt;
    ssl_certificate_key /etc/acmecerts/{cert}/live/ec-prime256v1.key;

    ssl_session_cache shared:SSL:50m;
    ssl_session_timeout 5m;

    ssl_protocols TLSv1.2 TLSv1.3;

    client_max_body_size 0;
    chunked_transfer_encoding on;
    add_header 'Docker-Distribution-Api-Version' 'registry/2.0' always;

    location = /v2/ {{
      satisfy any;

      deny {builder};
      allow all;

      auth_basic "docker-registry";
      auth_basic_user_file /etc/nginx/htpasswd.registry;

      proxy_pass http://registry;
      proxy_redirect off;
      proxy_buffering off;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
    }}

    location /v2 {{
{limit_except}
      add_header 'Docker-Distribution-Api-Version' 'registry/2.0' always;
      add_header Access-Control-Allow-Origin '*';
      add_header Access-Control-Allow-Methods 'OPTIONS, GET, HEAD';
      add_header Access-Control-Allow-Headers 'Content-Type, Accept';

      proxy_pass http://registry;
      proxy_redirect off;
      proxy_buffering off;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Proxy-Connection "Keep-Alive";
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header Host $host;
    }}
}}
"""
LIMIT_EXCEPT = """      # Require auth for POST, PUT, DELETE, ... requests
      limit_except GET HEAD OPTIONS {
        auth_basic "docker-registry";
        auth_basic_user_file /etc/nginx/htpasswd.registry;
      }
"""

# modules/rsync/templates/module.erb for rsync::quickdatacopy's source side
# (modules/rsync/manifests/quickdatacopy.pp -> rsync::server::module: read only, uid and
# gid 0, chroot, hosts_allow = the standby plus localhost).
RSYNCD_MODULE = """# This file is being maintained by Puppet.
# DO NOT EDIT

[ {title} ]
path            = /srv/registry
read only       = yes
write only      = no
list            = yes
uid             = 0
gid             = 0
use chroot      = yes
max connections = 0
hosts allow = {standby} localhost
"""

# rsync::quickdatacopy's destination side: the script, and systemd::timer::job's units
# (modules/systemd/templates/timer_service.erb, systemd.timer.erb): root, no
# SuccessExitStatus (ignore_missing_file_errors is false), every 10 minutes.
SYNC_SCRIPT = (
    "#!/bin/sh\n/usr/bin/rsync  --delete -a  --progress rsync://{active}/{title} /srv/registry/\n"
)
SYNC_SERVICE = """[Unit]
Description=Transfer data periodically between hosts
Documentation=https://wikitech.wikimedia.org/wiki/Monitoring/systemd_unit_state

[Service]
Type=oneshot
User=root
ExecStart=/usr/local/sbin/sync-{title}
"""
SYNC_TIMER = """[Unit]
Description=Periodic execution of rsync-{title}.service

[Timer]
Unit=rsync-{title}.service
# Accuracy sets the maximum time interval around the execution time we want to allow
AccuracySec=15sec
OnCalendar=*-*-* *:00/10:00
RandomizedDelaySec=0

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class PairSecrets:
    """What hiera and acme-chief give both nodes alike: the push user's password hash
    (docker::password_hash) and the one certificate for the public name."""

    htpasswd: str
    cert: CertFiles
    ca: trustme.CA

    @classmethod
    def make(cls, ca: trustme.CA, workdir: Path) -> PairSecrets:
        hashed = subprocess.run(
            ["openssl", "passwd", "-apr1", secrets.token_hex(8)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        cert = issue(ca, workdir / "cert", PUBLIC_NAME, stem="ec-prime256v1")
        return cls(f"{PUSH_USER}:{hashed}", cert, ca)


@dataclass(frozen=True)
class Node:
    host: Host
    role: str
    address: str  # on the pair's link; the node's name resolves to it on both


def lay_out(
    node: Node,
    given: PairSecrets,
    *,
    peers: dict[str, str],
    active: str | None = None,
    standby: str | None = None,
    key_group: str = "root",
    push_open: bool = False,
) -> None:
    """Write the node's files as puppet does, then (re)start what puppet keeps running."""
    host = node.host
    host.write(
        "/etc/hosts",
        "127.0.0.1 localhost\n" + "".join(f"{address} {name}\n" for name, address in peers.items()),
    )
    # modules/docker/manifests/registry.pp
    host.run(["chmod", "0555", "/etc/docker"])
    host.write(
        "/etc/docker/registry/config.yml",
        REGISTRY_CONFIG,
        owner="docker-registry:docker-registry",
        mode=0o440,
    )
    host.run(
        [
            "install",
            "-d",
            "-o",
            "docker-registry",
            "-g",
            "docker-registry",
            "-m",
            "0775",
            "/srv/registry",
        ]
    )
    # modules/docker/manifests/registry/web.pp: the password file, then the site
    host.write(
        "/etc/nginx/htpasswd.registry", given.htpasswd, owner="www-data:www-data", mode=0o440
    )
    write_site(host, push_open=push_open)
    host.run(["rm", "-f", "/etc/nginx/sites-enabled/default"])  # nginx::site purges others
    write_certs(host, given, key_group)
    if node.role == "active" and standby is not None:
        host.write("/etc/rsyncd.conf", RSYNCD_MODULE.format(title=SYNC_TITLE, standby=standby))
        host.systemctl("enable", "--now", "rsync.service")
        host.systemctl("restart", "rsync.service")
    if node.role == "standby" and active is not None:
        host.write(
            f"/usr/local/sbin/sync-{SYNC_TITLE}",
            SYNC_SCRIPT.format(active=active, title=SYNC_TITLE),
            mode=0o755,
        )
        host.write(f"/lib/systemd/system/{SYNC_UNIT}", SYNC_SERVICE.format(title=SYNC_TITLE))
        host.write(
            f"/lib/systemd/system/rsync-{SYNC_TITLE}.timer", SYNC_TIMER.format(title=SYNC_TITLE)
        )
        host.systemctl("daemon-reload")
        host.systemctl("enable", "--now", f"rsync-{SYNC_TITLE}.timer")
    host.systemctl("restart", "docker-registry.service")
    host.systemctl("restart", "nginx.service")


def write_site(host: Host, *, push_open: bool = False) -> None:
    """The nginx site; push_open drops limit_except, the fault the anonymous-push check finds."""
    host.write(
        "/etc/nginx/sites-enabled/registry",
        NGINX_SITE.format(
            cert=CERT_NAME, builder=BUILDER, limit_except="" if push_open else LIMIT_EXCEPT
        ),
    )


def write_certs(host: Host, given: PairSecrets, key_group: str) -> None:
    """modules/acme_chief/manifests/cert.pp: /etc/acmecerts root 0755; the certificate's
    tree root-owned, group key_group, mode 0640 recursively (directories 0750: puppet adds
    the search bit where it gives read); `live` pointing at the current directory."""
    made = given.cert
    current = f"/etc/acmecerts/{CERT_NAME}/{secrets.token_hex(6)}"
    chained = made.cert.read_bytes()
    leaf = chained.split(b"-----END CERTIFICATE-----", 1)[0] + b"-----END CERTIFICATE-----\n"
    chain = chained[len(leaf) :].lstrip(b"\n") or given.ca.cert_pem.bytes()
    files = {
        "ec-prime256v1.chained.crt": chained,
        "ec-prime256v1.crt": leaf,
        "ec-prime256v1.chain.crt": chain,
        "ec-prime256v1.key": made.key.read_bytes(),
    }
    host.run(["install", "-d", "-o", "root", "-g", "root", "-m", "0755", "/etc/acmecerts"])
    host.run(
        [
            "install",
            "-d",
            "-o",
            "root",
            "-g",
            key_group,
            "-m",
            "0750",
            f"/etc/acmecerts/{CERT_NAME}",
            current,
        ]
    )
    for name, data in files.items():
        host.write(f"{current}/{name}", data, owner=f"root:{key_group}", mode=0o640)
    host.run(["ln", "-sfn", current, f"/etc/acmecerts/{CERT_NAME}/live"])
    host.run(["chown", "-h", f"root:{key_group}", f"/etc/acmecerts/{CERT_NAME}/live"])
