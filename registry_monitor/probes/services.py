"""services: the systemd units the registry needs (docker-registry, nginx).

Reports the one-hot ActiveState, LoadState, NRestarts and the start time.
NRestarts counts only restarts systemd made itself (Restart=); Debian's
docker-registry.service has none, so a crash-and-manual-start shows only as
a new start time, which is why the start time is exported too. For a unit
with a main process, its memory, descriptors, threads and CPU time
(service_process.py).
"""

from __future__ import annotations

from typing import NamedTuple

from registry_monitor.base import Deadline
from registry_monitor.clients import systemd
from registry_monitor.config import Config
from registry_monitor.probes.service_process import ProcessStatus, read_process

ACTIVE_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating")
LOAD_STATES = ("loaded", "not-found", "bad-setting", "error", "masked")

PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "SubState",
    "NRestarts",
    "MainPID",
    "ActiveEnterTimestamp",  # read first: whole seconds, the same value on every run
    "ActiveEnterTimestampMonotonic",  # the fallback where the realtime form is missing
)


class UnitStatus(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """One unit as systemd reports it, with its main process when it has one."""

    unit: str
    load_state: str
    active_state: str
    sub_state: str
    restarts: int | None  # NRestarts; None on systemd too old to count
    main_pid: int | None
    started_at: float | None  # unix time of the last entry into "active"
    process: ProcessStatus | None = None  # the main process's figures, when it has one

    @property
    def active(self) -> bool:
        return self.active_state == "active"


class ServicesStatus(NamedTuple):  # not a dataclass: a tenth of the cost to define
    """The statuses of the units the services probe watches."""

    units: tuple[UnitStatus, ...]


def unit_status(unit: str, props: dict[str, str]) -> UnitStatus:
    pid = systemd.int_or_none(props.get("MainPID"))
    return UnitStatus(
        unit=unit,
        load_state=props.get("LoadState", "unknown"),
        active_state=props.get("ActiveState", "unknown"),
        sub_state=props.get("SubState", "unknown"),
        restarts=systemd.int_or_none(props.get("NRestarts")),
        main_pid=pid or None,
        started_at=systemd.timestamp(props, "ActiveEnterTimestamp"),
    )


class ServicesProbe:
    name = "services"

    def __init__(self, config: Config) -> None:
        self.units = config.watched_services
        self.systemctl = config.systemctl

    def __call__(self, deadline: Deadline) -> ServicesStatus:
        blocks = systemd.show(
            self.units,
            PROPERTIES,
            systemctl=self.systemctl,
            timeout=deadline.io_timeout(),
            unix_timestamps=True,
        )
        units = [unit_status(u, p) for u, p in zip(self.units, blocks, strict=True)]
        return ServicesStatus(
            tuple(u._replace(process=read_process(u.main_pid)) if u.main_pid else u for u in units)
        )
