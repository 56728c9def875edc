"""disk: used space (percent, or available bytes with --unit bytes), inodes, read-only;
data_dir on the root filesystem where it must be on a volume of its own (mount_rule.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from registry_monitor.config import Config
from registry_monitor.config.mount_rule import unmounted_reason
from registry_monitor.judging.ranges import Threshold, ceiling, floor, parse_floor, parse_range
from registry_monitor.judging.state import State
from registry_monitor.judging.verdict import Options, UsageError, Verdict, VerdictBuilder
from registry_monitor.judging.verdicts import Limits, levels
from registry_monitor.probes.reading import Measured

if TYPE_CHECKING:  # the probe's module is loaded by the probe, in its own thread
    from registry_monitor.probes.disk import DiskUsage

UNITS = ("percent", "bytes")
BINARY = ("B", "KiB", "MiB", "GiB", "TiB")
READONLY = parse_range("@1:1")  # perfdata: critical when read-only (1)


def thresholds(config: Config, options: Options) -> Limits:
    unit = options.unit or "percent"
    if unit not in UNITS:
        raise UsageError(f"--unit: {unit!r} is not one of {', '.join(UNITS)}")
    limits: Limits = {}
    if unit == "percent":
        limits["used_percent"] = levels(
            options.warning,
            options.critical,
            config.thresholds.disk_used_percent,
            parse_range,
            ceiling,
        )
    else:
        if options.warning is None and options.critical is None:
            raise UsageError(
                "--unit bytes needs -w and/or -c in available bytes, "
                "e.g. -w 20000000000 -c 10000000000 (a bare number means fewer than)"
            )
        limits["avail"] = levels(options.warning, options.critical, None, parse_floor, floor)
    limits["inodes_used_percent"] = levels(
        options.inode_warning,
        options.inode_critical,
        config.thresholds.disk_inodes_used_percent,
        parse_range,
        ceiling,
        flags=("-W", "-K"),
    )
    return limits


def human(size: float) -> str:
    """Binary units, as df -h shows them."""
    step = 0
    while size >= 1024 and step < len(BINARY) - 1:
        size, step = size / 1024, step + 1
    return f"{size:.0f} B" if step == 0 else f"{size:.1f} {BINARY[step]}"


def judge(reading: Measured[DiskUsage], limits: Limits) -> Verdict:
    d = reading.value
    j = VerdictBuilder("disk")
    where = f"{d.mountpoint} ({d.fstype} {d.device})"
    view = (
        " (read-only in this process's view only: a sandbox's bind mount)"
        if d.mount_readonly and not d.readonly
        else ""
    )
    j.add(
        State.CRITICAL if d.readonly else State.OK,
        f"{d.mountpoint} is mounted read-only" if d.readonly else f"{where} is writable{view}",
    )
    if d.on_own_volume is False:
        j.add(State.CRITICAL, unmounted_reason(d.path))
    used = round(d.used_percent, 2)
    space = f"{used:.1f}% of {human(d.size_bytes)} used, {human(d.avail_bytes)} available"
    if "used_percent" in limits:
        t = limits["used_percent"]
        j.add(t.state(used), f"space: {space} {t.explain(used)}".rstrip())
    if "avail" in limits:
        t = limits["avail"]
        j.add(
            t.state(d.avail_bytes),
            f"space: {human(d.avail_bytes)} ({d.avail_bytes} B) available "
            f"{t.explain(d.avail_bytes)}".rstrip(),
        )
    inodes = round(d.inodes_used_percent, 2)
    if d.files:
        t = limits.get("inodes_used_percent", Threshold())
        j.add(
            t.state(inodes),
            f"inodes: {inodes:.1f}% of {d.files} used {t.explain(inodes)}".rstrip(),
        )
    else:
        j.add(State.OK, f"inodes: {d.fstype} reports no inode counts; not judged")

    j.perf("used_percent", used, "%", limits.get("used_percent"), 0, 100)
    if d.files:
        j.perf("inodes_used_percent", inodes, "%", limits.get("inodes_used_percent"), 0, 100)
    j.perf("size", d.size_bytes, "B", minimum=0)
    j.perf("avail", d.avail_bytes, "B", limits.get("avail"), 0, d.size_bytes)
    j.perf("free", d.free_bytes, "B", minimum=0, maximum=d.size_bytes)
    j.perf("inodes", d.files, minimum=0)
    j.perf("inodes_free", d.files_free, minimum=0, maximum=d.files)
    j.perf("readonly", int(d.readonly), critical=READONLY, minimum=0, maximum=1)
    inode_text = f", {inodes:.1f}% inodes used" if d.files else ""
    return j.verdict(f"{space}{inode_text} on {d.mountpoint}")
