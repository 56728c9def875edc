"""Request durations on a real host: nginx's `combined` log as puppet leaves it, the
durations from docker-registry's own request log in the real journal (docs/traffic.md),
read by the packaged exporter from inside its hardened unit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import installed, puppet_hosts
from testbed.realhost import HostFailed
from testbed.waiting import wait_until
from tests.support.metrics import value
from tests.support.realhosts import TOKEN, RealNode, booted, deb  # noqa: F401  (the .deb)
from tests.test_real_host import CANARY, push

pytestmark = [pytest.mark.realhost, pytest.mark.timeout(900)]

EXPORTER = "registry-exporter.service"
REPOSITORY = CANARY.split(":")[0]
# GET tags/list: a route the exporter's own probes never ask, so its counts are the test's
TAGS = f"/v2/{REPOSITORY}/tags/list"
CURSOR_FILE = "/var/lib/registry-monitor/journal-cursor.json"

# requests from inside the host: through nginx (443, the public name as Host, as clients
# send it) or straight to the registry (its own address as Host)
GET = """
import http.client, ssl, sys
port, host, path, times = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
for _ in range(times):
    if port == 443:
        ctx = ssl._create_unverified_context()
        c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path, headers={"Host": host})
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
"""


def through_nginx(node: RealNode, times: int) -> None:
    node.host.run(["python3", "-c", GET, "443", puppet_hosts.PUBLIC_NAME, TAGS, str(times)])


def straight_to_registry(node: RealNode, times: int) -> None:
    node.host.run(["python3", "-c", GET, "5000", "127.0.0.1:5000", TAGS, str(times)])


def metrics(node: RealNode) -> str:
    text = installed.api_status(node.host, "/metrics")
    assert isinstance(text, str)
    return text


def tags_durations(node: RealNode) -> float | None:
    return tags_durations_in(metrics(node))


def tags_durations_in(text: str) -> float | None:
    return value(
        text, "registry_monitor_http_request_duration_seconds_count", route="tags", method="GET"
    )


def counted(node: RealNode, expected: float, what: str) -> str:
    """/metrics once the tags histogram holds at least `expected` (a run reads every
    entry logged before it, so a count past it would show in the same scrape)."""

    def enough() -> str | None:
        text = metrics(node)
        return text if (tags_durations_in(text) or 0) >= expected else None

    return wait_until(enough, timeout=120, what=what)


@pytest.fixture(scope="module")
def active(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealNode]:  # noqa: F811
    with booted(tmp_path_factory.mktemp("realjournal"), deb, ("active",)) as (node,):
        push(node.host, CANARY)
        installed.configure(node.host, node.config)
        installed.wait_for_readings(node.host, ("traffic",))
        # the first run took the journal's end: from here on every entry is new
        wait_until(
            lambda: node.host.run(["test", "-s", CURSOR_FILE], check=False).returncode == 0,
            timeout=60,
            what="the journal cursor saved",
        )
        yield node


def test_pulls_through_nginx_are_timed_from_the_registrys_journal(active: RealNode) -> None:
    """The example config (combined, durations auto) on puppet's layout: each request
    through nginx is counted once in the histogram; one straight to the registry is not."""
    straight_to_registry(active, 1)
    through_nginx(active, 5)
    text = counted(active, 5, "5 tags/list durations")
    assert tags_durations_in(text) == 5
    assert (
        value(
            text,
            "registry_monitor_http_request_duration_seconds_bucket",
            route="tags",
            method="GET",
            le="+Inf",
        )
        == 5
    )
    seconds = value(
        text, "registry_monitor_http_request_duration_seconds_sum", route="tags", method="GET"
    )
    assert seconds is not None and seconds > 0
    # nginx's combined log counts the same five (and not the one that bypassed it)
    nginx = wait_until(
        lambda: value(
            metrics(active),
            "registry_monitor_http_requests_total",
            route="tags",
            method="GET",
            code="200",
        ),
        timeout=60,
        what="nginx's count",
    )
    assert nginx == 5
    traffic = installed.probes_of(installed.api_status(active.host, token=TOKEN))
    assert (traffic["traffic"]["state"], traffic["traffic"]["error"]) == ("OK", None)
    assert traffic["traffic"]["value"]["durations"] == "journal"


def test_check_registry_judges_the_manifest_p95_from_the_journal(active: RealNode) -> None:
    """The window's manifest reads through nginx (the exporter's own api probe reads the
    canary's manifest through the public name every 30 s), with the check's groups.
    Levels far out of reach: the figure is the machine's, the source is the test's."""
    code, text = active.check("traffic", "-v", "-w", ",600", "-c", ",600")
    timed = [line for line in text.splitlines() if "manifest reads" in line]
    assert code == 0, text
    assert len(timed) == 1 and re.fullmatch(
        r"\[OK\] p95 of [1-9]\d* manifest reads \d+(\.\d+)?s "
        r"\(the registry's time, from its journal\)",
        timed[0],
    ), text


def test_rotation_and_a_restart_lose_and_repeat_nothing(active: RealNode) -> None:
    """journald's files rotated, then the exporter stopped: what the registry logged while
    it was stopped is counted after the restart from the kept cursor, and nothing read
    before the stop is counted again (the counters themselves restart at zero)."""
    before = tags_durations(active) or 0
    active.host.run(["journalctl", "--rotate"])
    through_nginx(active, 2)
    counted(active, before + 2, "2 more after the journal's rotation")
    assert tags_durations(active) == before + 2
    active.host.systemctl("stop", EXPORTER)
    through_nginx(active, 3)
    active.host.systemctl("start", EXPORTER)
    text = counted(active, 3, "the 3 logged while stopped")
    assert tags_durations_in(text) == 3


def test_a_cursor_journalctl_cannot_seek_to_is_an_error_then_dropped(active: RealNode) -> None:
    active.host.systemctl("stop", EXPORTER)
    active.host.write(
        CURSOR_FILE,
        '{"unit": "docker-registry.service", "cursor": "not-a-cursor"}',
        owner="registry-monitor:registry-monitor",
        mode=0o640,
    )
    active.host.systemctl("start", EXPORTER)

    def failed_reading() -> dict[str, object] | None:
        try:
            status = installed.api_status(active.host, token=TOKEN)
        except HostFailed:
            return None  # not listening yet
        traffic = installed.probes_of(status).get("traffic")
        return traffic if traffic and traffic.get("error") else None

    traffic = wait_until(failed_reading, timeout=60, what="the traffic reading's error")
    error = str(traffic["error"])
    assert error.startswith(
        "durations: journalctl --unit docker-registry.service failed (exit status 1)"
    ), error
    assert error.endswith("; dropped the saved cursor: reading on from the journal's end"), error
    # the run after takes the journal's end again, and requests are timed as before
    wait_until(
        lambda: "not-a-cursor" not in active.host.run(["cat", CURSOR_FILE]).stdout,
        timeout=60,
        what="a new cursor saved",
    )
    through_nginx(active, 1)
    text = counted(active, 1, "the request after the cursor was dropped")
    assert tags_durations_in(text) == 1
