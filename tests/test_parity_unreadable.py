"""parity on the files as puppet leaves them: htpasswd.registry is www-data's, 0440
(modules/docker/manifests/registry/web.pp), which the exporter's user may not read.
Such an item is named with how to grant read, and neither matches nor differs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.metrics.parity import render
from registry_monitor.config import Config
from registry_monitor.judging.state import State
from registry_monitor.judging.verdicts import parity as verdict
from registry_monitor.probes.parity import (
    GRANT,
    NodeDescription,
    ParityItem,
    ParityMatch,
    ParityStatus,
    compare,
    file_digest,
)
from registry_monitor.probes.reading import Reading

PUPPET_HTPASSWD = Path("/etc/nginx/htpasswd.registry")


def test_the_default_htpasswd_is_the_file_puppet_writes() -> None:
    assert Config(node="n").parity_files["htpasswd"] == PUPPET_HTPASSWD


def digest_as_unprivileged(path: Path) -> dict[str, object]:
    """file_digest run by a process that only its permission bits let read (no capability)."""
    code = (
        "import json, sys; from pathlib import Path; "
        "from registry_monitor.probes.parity import file_digest; "
        'i = file_digest(Path(sys.argv[1]), (), b"k"); print(json.dumps([i.digest, i.error]))'
    )
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("setpriv (util-linux) is needed to drop root's capabilities")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    run = subprocess.run(
        [*prefix, sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    digest, error = json.loads(run.stdout)
    return {"digest": digest, "error": error}


def test_a_file_this_user_may_not_read_says_how_to_grant_it(tmp_path: Path) -> None:
    path = tmp_path / "htpasswd.registry"
    path.write_text("builder:$apr1$x$y\n")
    path.chmod(0o440)
    tmp_path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, 33, 33)  # www-data, as puppet leaves it; root runs without capabilities
    else:
        path.chmod(0)
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
    got = digest_as_unprivileged(path)
    assert got["digest"] is None
    assert got["error"] == f"not readable by {user}: {path}; {GRANT}"


ERROR = f"not readable by registry-monitor: {PUPPET_HTPASSWD}; {GRANT}"


def described(role: str, htpasswd: ParityItem) -> NodeDescription:
    return NodeDescription(
        "b" if role == "standby" else "a",
        role,
        1.0,
        (ParityItem("registry_config", "file", "1" * 64), htpasswd),
    )


def test_an_unreadable_item_is_not_compared_and_not_a_mismatch() -> None:
    hidden = ParityItem("htpasswd", "file", None, ERROR)
    readable = ParityItem("htpasswd", "file", "4" * 64)
    for mine, theirs, where in (
        (hidden, readable, "here"),
        (readable, hidden, "on the active"),
    ):
        local, active = described("standby", mine), described("active", theirs)
        matches = compare(local, active)
        assert matches == (
            ParityMatch("registry_config", True),
            ParityMatch("htpasswd", False, f"not compared, {where}: {ERROR}", compared=False),
        )
        status = ParityStatus(local, active, matches)
        assert status.mismatches == ()
        judged = verdict.judge(Reading("parity", 1.0, 0.1, status), {})
        assert (judged.state, judged.summary) == (State.OK, "1 items as on a")
        assert [(i.state, i.text) for i in judged.items][1] == (
            State.OK,
            f"htpasswd not compared, {where}: {ERROR}",
        )
        series = [
            s for family in render(Reading("parity", 1.0, 0.1, status)) for s in family.samples
        ]
        matches = [(s.labels["item"], s.value) for s in series if s.name.endswith("parity_match")]
        assert matches == [("registry_config", 1.0)]


def test_the_active_describing_an_unreadable_file_is_ok_and_says_so() -> None:
    status = ParityStatus(described("active", ParityItem("htpasswd", "file", None, ERROR)))
    judged = verdict.judge(Reading("parity", 1.0, 0.1, status), {})
    assert judged.state == State.OK
    assert [(i.state, i.text) for i in judged.items][1] == (
        State.OK,
        f"htpasswd: not described ({ERROR})",
    )


def test_a_missing_file_still_warns() -> None:
    missing = file_digest(Path("/nonexistent/htpasswd.registry"), (), b"k")
    status = ParityStatus(described("active", ParityItem("htpasswd", "file", None, missing.error)))
    judged = verdict.judge(Reading("parity", 1.0, 0.1, status), {})
    assert judged.state == State.WARNING
