"""The exporter's judge on its own: thresholds the config cannot give, probes not run yet."""

from __future__ import annotations

from pathlib import Path

from exporter.node_status import NOT_RUN, Evidence, RequestJudge
from registry_monitor.config.loading import load_config
from registry_monitor.judging.state import State
from registry_monitor.probes.reading import Reading
from tests.support.check import run_check, write_config


def test_a_level_no_range_can_hold_makes_that_probe_unknown_not_the_exporter(
    tmp_path: Path,
) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        {
            "data_dir": str(tmp_path),
            "thresholds": {"disk_used_percent": {"warning": -1, "critical": 90}},
        },
    )
    judge = RequestJudge(load_config(path), ("disk", "services"))
    failed: Reading[None] = Reading("services", 1.0, 0.1, None, "systemctl not found")
    node = judge({"disk": Reading("disk", 1.0, 0.1, None, "no statvfs"), "services": failed}, {})
    disk, services = node.probes
    why = (
        "cannot use the config's thresholds for disk: "
        "'-1' is not a range: start 0 is greater than end -1"
    )
    assert (disk.verdict.state, disk.reasons) == (State.UNKNOWN, [f"[UNKNOWN] {why}"])
    assert (services.verdict.state, services.reasons) == (
        State.UNKNOWN,
        ["[UNKNOWN] systemctl not found"],
    )
    assert services.evidence is Evidence.FAILED
    assert node.state is State.UNKNOWN
    # check_registry cannot judge that config either (UNKNOWN, exit 3)
    assert run_check(path, "disk").exit_code == 3


def test_probes_without_a_reading_are_unknown_in_the_order_the_node_runs_them() -> None:
    judge = RequestJudge(load_config(None), ("disk", "services"))
    node = judge({}, {"disk": 15.0})
    assert [(p.name, p.verdict.state, p.reasons, p.evidence) for p in node.probes] == [
        ("disk", State.UNKNOWN, [f"[UNKNOWN] {NOT_RUN}"], Evidence.PENDING),
        ("services", State.UNKNOWN, [f"[UNKNOWN] {NOT_RUN}"], Evidence.PENDING),
    ]
    assert (node.state, node.summary) == (State.UNKNOWN, f"disk: {NOT_RUN}; services: {NOT_RUN}")
    assert node.probes[0].interval_seconds == 15.0
