"""Reading systemd's figures: unix timestamps, timer periods, and the fake's boot."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from registry_monitor.clients import systemd
from testbed.systemd import BeforeBoot, FakeSystemd


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("@1764577139", 1764577139.0),
        ("Tue 2026-12-01 08:18:59 UTC", 1796113139.0),
        ("Tue 2026-02-30 08:18:59 UTC", None),  # no such day
        ("Tue 2026-12-01 08:18:59 CET", None),
        ("@0", None),
        ("", None),
        ("n/a", None),
        ("@-5", None),
    ],
)
def test_realtime_forms(text: str, unix: float | None) -> None:
    assert systemd.realtime_to_unix(text) == unix


@pytest.mark.parametrize(
    ("props", "period"),
    [
        ({"TimersMonotonic": "{ OnUnitActiveUSec=10min ; next_elapse=3min 2.5s }"}, 600),
        ({"TimersMonotonic": "{ OnUnitInactiveUSec=1h 30min ; next_elapse=0 }"}, 5400),
        (
            {
                "TimersMonotonic": "{ OnBootUSec=2min ; next_elapse=0 }\n"
                "{ OnUnitActiveUSec=15min ; next_elapse=0 }"
            },
            900,
        ),
        ({"TimersCalendar": "{ OnCalendar=*-*-* *:00/10:00 ; next_elapse=@1764577139 }"}, 600),
        ({"TimersCalendar": "{ OnCalendar=*-*-* *:00:00 ; next_elapse=@1764577139 }"}, 3600),
        ({"TimersCalendar": "{ OnCalendar=*-*-* 04/6:00:00 ; next_elapse=@1 }"}, 21600),
        ({"TimersCalendar": "{ OnCalendar=Mon *-*-* 00:00:00 ; next_elapse=@1 }"}, None),
        ({"TimersMonotonic": "{ OnBootUSec=5min ; next_elapse=0 }"}, None),
        ({}, None),
    ],
)
def test_timer_period(props: dict[str, str], period: float | None) -> None:
    assert systemd.timer_period(props) == period


def test_repeated_properties_are_all_kept() -> None:
    blocks = systemd.parse_show("Id=a.timer\nTimersMonotonic=one\nTimersMonotonic=two\n\nId=b\n")
    assert blocks == [{"Id": "a.timer", "TimersMonotonic": "one\ntwo"}, {"Id": "b"}]


def test_fake_systemd_shows_nothing_before_its_boot(tmp_path: Path) -> None:
    fake = FakeSystemd(tmp_path, boot=time.time() - 60)
    with pytest.raises(BeforeBoot):
        fake.set_unit("x.service", started_at=time.time() - 61)
    at = float(int(time.time() - 30))
    fake.set_unit("x.service", started_at=at)
    shown = subprocess.run(
        [
            str(fake.systemctl),
            "show",
            "--property=ActiveEnterTimestamp",
            "--timestamp=unix",
            "x.service",
        ],
        capture_output=True,
        text=True,
        env={"FAKE_SYSTEMD_DIR": str(fake.state_dir), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert shown.stdout == f"ActiveEnterTimestamp=@{int(at)}\n"


def test_fake_boot_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SYSTEMD_UPTIME", "60")
    before = time.time()
    fake = FakeSystemd(tmp_path)
    assert before - 60 <= fake.boot <= time.time() - 60
