"""check_registry's command line: every way in gives a plugin answer, never a traceback."""

from __future__ import annotations

import json
import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry_monitor import __version__
from registry_monitor.probes.disk import find_mount
from testbed.mounts import OwnFilesystem
from testbed.waiting import closed_port
from tests.support.check import run_check, run_raw, write_config
from tests.support.reasons import msgspec_reason, yaml_reason


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    """A data directory on a filesystem of its own: the disk check's state is the
    test's, not that of the host's /tmp."""
    disk = OwnFilesystem(tmp_path / "disk").start()
    try:
        yield disk.path
    finally:
        disk.stop()


@pytest.fixture
def config(tmp_path: Path, data: Path) -> Path:
    return write_config(tmp_path / "config.yaml", {"data_dir": str(data)})


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["dsk"],
            "REGISTRY UNKNOWN - unknown probe 'dsk': choose one of disk, services, api, cert, "
            "write, storage, sync, standby, pull, parity, traffic, all, failover, sync-guard "
            "(see check_registry --help)",
        ),
        (
            ["disk", "--allow-once", "why"],
            "REGISTRY DISK UNKNOWN - --allow-once applies to sync-guard only",
        ),
        (
            ["sync-guard", "--allow-once", " "],
            "REGISTRY SYNC-GUARD UNKNOWN - --allow-once needs a reason: it is logged and kept in "
            "state_dir",
        ),
        (
            ["sync-guard", "-w", "5"],
            "REGISTRY SYNC-GUARD UNKNOWN - -w/-c/-W/-K/--unit apply to one probe; `sync-guard` "
            "takes its thresholds from the config",
        ),
        ([], "REGISTRY UNKNOWN - the following arguments are required: PROBE"),
        (["disk", "-w"], "REGISTRY DISK UNKNOWN - argument -w/--warning: expected one argument"),
        (
            ["disk", "-c", "10:5"],
            "REGISTRY DISK UNKNOWN - -c: '10:5' is not a range: start 10 is greater than end 5",
        ),
        (
            ["disk", "-w", "1e3"],
            "REGISTRY DISK UNKNOWN - -w: '1e3' is not a range ([@][START:][END]",
        ),
        (
            ["disk", "-t", "0"],
            "REGISTRY DISK UNKNOWN - argument -t/--timeout: expected seconds above 0 (at most "
            "86400), got '0'",
        ),
        (
            ["disk", "-t", "soon"],
            "REGISTRY DISK UNKNOWN - argument -t/--timeout: expected seconds above 0",
        ),
        (["disk", "--frobnicate"], "REGISTRY DISK UNKNOWN - unrecognized arguments: --frobnicate"),
        (["disk", "--warn", "5"], "REGISTRY DISK UNKNOWN - unrecognized arguments: --warn 5"),
        (
            ["cert", "--unit", "bytes"],
            "REGISTRY CERT UNKNOWN - cert does not take --unit: -w/-c are days left",
        ),
    ],
)
def test_bad_arguments_are_unknown(config: Path, args: list[str], line: str) -> None:
    run = run_check(config, *args)
    assert (run.exit_code, run.state) == (3, "UNKNOWN")
    assert run.stdout.startswith(line), run.stdout
    assert run.stdout.count("\n") == 1


def test_negative_ranges_may_follow_their_flag(config: Path) -> None:
    run = run_check(config, "disk", "-w", "-5:", "--critical", "-10:-1")
    assert (run.perf("used_percent").warn, run.perf("used_percent").crit) == ("-5:", "-10:-1")
    assert run.state == "CRITICAL"  # used % is above -1


def test_role_refused_probes_are_unknown(config: Path) -> None:
    for probe in ("standby",):  # sync runs on both roles: the active must never sync
        run = run_check(config, probe)
        assert (run.exit_code, run.stdout) == (
            3,
            f"REGISTRY {probe.upper()} UNKNOWN - {probe} does not run on a node with role active\n",
        )


def test_standby_without_its_active_is_unknown(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "c.yaml",
        {"data_dir": str(tmp_path), "role": "standby", "state_dir": str(tmp_path / "state")},
    )
    run = run_check(config, "standby", "-w", "1800")
    assert (run.exit_code, run.text) == (
        3,
        "active_exporter_url is not set: nothing to compare with",
    )


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "absent.yaml", "{p}: cannot read config file: No such file or directory"),
        (lambda d: d, "{p}: cannot use config file: is a directory, not a regular file"),
        (
            lambda d: write_text(d / "bad.yaml", "role: [unclosed\n"),
            "{p}: not valid YAML: " + yaml_reason("role: [unclosed\n"),
        ),
        (
            lambda d: write_text(
                d / "keys.yaml", "rol: active\nthresholds:\n  cert_days_left: {warning: x}\n"
            ),
            "{p}: invalid configuration: "
            "rol: unknown key (not one this program reads; check its spelling); "
            "thresholds.cert_days_left.warning: "
            + msgspec_reason("thresholds", {"cert_days_left": {"warning": "x"}})
            + " (got 'x')",
        ),
        (
            lambda d: write_text(d / "list.yaml", "- a\n"),
            "{p}: expected a mapping of keys at the top level",
        ),
    ],
    ids=["missing", "directory", "yaml", "keys", "not-a-mapping"],
)
def test_unusable_config_is_unknown_with_the_reason(
    tmp_path: Path, make: Callable[[Path], Path], expected: str
) -> None:
    path = make(tmp_path)
    run = run_check(path, "disk")
    assert (run.exit_code, run.state) == (3, "UNKNOWN")
    assert run.text.startswith(expected.format(p=path)), run.text
    assert run.long == []  # the reason is folded into the status line


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_help_and_version_exit_unknown_on_stdout() -> None:
    for flag in ("-h", "--help"):
        done = run_raw("disk", flag)
        assert (done.returncode, done.stderr) == (3, "")
        assert done.stdout.startswith("usage: check_registry [--config FILE] PROBE")
        assert "exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN" in done.stdout
    for flag in ("-V", "--version"):
        done = run_raw(flag)
        assert (done.returncode, done.stdout, done.stderr) == (
            3,
            f"check_registry {__version__} (registry-monitor)\n",
            "",
        )


def test_verbosity_levels(config: Path, data: Path) -> None:
    def items(lines: list[str]) -> list[str]:
        """The item lines' state and subject (the figures of a live filesystem move)."""
        return [" ".join(line.split(" ")[:2]) for line in lines]

    quiet = run_check(config, "disk")
    assert quiet.long == []
    one = run_check(config, "disk", "-v")
    mountpoint = find_mount(str(data))[0]
    assert items(one.long) == [f"[OK] {mountpoint}", "[OK] space:", "[OK] inodes:"]
    two = run_check(config, "disk", "-vv")
    assert items(two.long[:3]) == items(one.long)
    assert two.long[3:6] == [
        f"config: {config} (node {socket.gethostname()}, role active)",
        "disk threshold used_percent: warning 80, critical 90",
        "disk threshold inodes_used_percent: warning 80, critical 90",
    ]
    assert re.fullmatch(r"disk probe ran \d+\.\d{3} s of its 5 s time-out", two.long[6])
    assert len(two.long) == 7
    three = run_check(config, "disk", "-v", "-v", "-v")
    assert three.long[3:6] == two.long[3:6]
    assert f"disk reading: value.path={json.dumps(str(data))}" in three.long
    assert len(three.long) > 7
    # the guidelines stop at three
    assert len(run_check(config, "disk", "-vvvv").long) == len(three.long)


def test_time_out_note_at_vv(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"data_dir": str(tmp_path)})
    run = run_check(config, "disk", "-vv", "-t", "5")
    assert "disk: its own time-out (5 s) was cut to 4.5 s to end inside -t (5 s)" in run.long


def test_no_pipe_in_any_output_line(tmp_path: Path) -> None:
    odd = tmp_path / "a|b"
    config = write_config(tmp_path / "c.yaml", {"data_dir": str(odd)})
    run = run_check(config, "disk", "-vvv")
    assert run.text == f"data directory {tmp_path}/a/b does not exist"
    assert all("|" not in line for line in run.long)


def test_json(config: Path, data: Path) -> None:
    (data / "blob").write_bytes(b"\0" * 65536)  # some use, above -w 0
    done = run_raw(f"--config={config}", "disk", "--json", "-w", "0")
    assert (done.returncode, done.stderr) == (1, "")
    doc = json.loads(done.stdout)
    assert (doc["check"], doc["state"], doc["exit_code"], doc["timed_out"], doc["role"]) == (
        "disk",
        "WARNING",
        1,
        None,
        "active",
    )
    (probe,) = doc["probes"]
    assert (probe["probe"], probe["state"]) == ("disk", "WARNING")
    assert probe["thresholds"]["used_percent"] == {"warning": "0", "critical": "90"}
    assert probe["reading"]["ok"] is True
    assert probe["reading"]["value"]["path"] == str(data)
    assert probe["perfdata"][0].startswith("used_percent=")
    assert [i["state"] for i in probe["items"]] == ["OK", "WARNING", "OK"]


def test_json_for_bad_arguments(config: Path) -> None:
    done = run_raw(f"--config={config}", "dsk", "--json")
    doc = json.loads(done.stdout)
    assert (done.returncode, doc["check"], doc["state"], doc["probes"]) == (3, None, "UNKNOWN", [])
    assert doc["summary"].startswith("unknown probe 'dsk'")


# What each probe's check may load beyond the standard library. The project's modules are
# named one by one ("a.b.*": the package a.b and all of it); a third-party package's name
# covers its submodules. Every probe loads the check itself, the config's types and the
# judging layer.
PROJECT = ("registry_monitor", "checks")
COMMON = {
    "checks",
    "checks.arguments",
    "checks.collect",
    "checks.config_cache",
    "checks.output",
    "checks.plugin",
    "registry_monitor",
    "registry_monitor.base",
    "registry_monitor.probe_catalog",
    "registry_monitor.config",
    "registry_monitor.config.file_bounds",
    "registry_monitor.config.loading",
    "registry_monitor.files",
    "registry_monitor.files.private_file",  # the config cache
    "registry_monitor.files.provenance",
    "registry_monitor.files.regular_file",
    "registry_monitor.judging",
    "registry_monitor.judging.judge",
    "registry_monitor.judging.lines",
    "registry_monitor.judging.numerals",
    "registry_monitor.judging.perfdata",
    "registry_monitor.judging.ranges",
    "registry_monitor.judging.state",
    "registry_monitor.judging.verdict",
    "registry_monitor.judging.verdicts",
    "registry_monitor.judging.jsonable",  # --json
    "registry_monitor.probes",
    "registry_monitor.probes.reading",
    "registry_monitor.times",
}
# HTTP is requests (and what it imports), under the whole-call deadline of http_transport.
HTTP = {
    "registry_monitor.clients",
    "registry_monitor.clients.http",
    "registry_monitor.clients.http_transport",
    "registry_monitor.clients.bounded_json",  # a body read as JSON, within its cap
    "registry_monitor.tls",
    "registry_monitor.tls.trust",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset_normalizer",
    "cython_runtime",  # charset_normalizer's compiled modules
}
MAY_LOAD = {
    "disk": {
        "registry_monitor.probes.disk",
        "registry_monitor.judging.verdicts.disk",
        "registry_monitor.config.mount_rule",  # data_dir on a volume of its own
        "psutil",
    },
    "services": {
        "registry_monitor.probes.services",
        "registry_monitor.probes.service_process",  # the main process's figures
        "psutil",
        "registry_monitor.judging.verdicts.services",
        "registry_monitor.clients",
        "registry_monitor.clients.systemd",
    },
    "cert": {
        "registry_monitor.probes.cert",
        "registry_monitor.judging.verdicts.cert",
        "registry_monitor.tls",
        "registry_monitor.tls.trust",
        "registry_monitor.tls.reader",  # the served certificate and the file, read and judged
        "registry_monitor.tls.certificates",  # the chain a connection carries, the key
        "registry_monitor.tls.certfacts",  # a certificate's fields, kept by its hash
        "registry_monitor.tls.chain_verify",  # cryptography's judgements, when needed
        "cryptography",
        "typing_extensions",  # cryptography's
        "cffi",
    },
    "api": {
        "registry_monitor.probes.api",
        "registry_monitor.probes.anonymous_push",  # does the registry refuse a stranger?
        "registry_monitor.probes.public_name",  # where the public name points
        "registry_monitor.judging.verdicts.api",
        "registry_monitor.clients.registry_api",
        *HTTP,
    },
    "storage": {
        "registry_monitor.probes.storage",
        "registry_monitor.judging.verdicts.storage",
        "registry_monitor.storage.*",
        "registry_monitor.clients",
        "registry_monitor.clients.registry_api",  # the registry's names for what it stores
        "registry_monitor.clients.bounded_json",
    },
    "write": {
        "registry_monitor.probes.write",
        "registry_monitor.judging.verdicts.write",
        "registry_monitor.clients.registry_api",
        "registry_monitor.files.statefile",
        "registry_monitor.storage",
        "registry_monitor.storage.canary",  # the blob it pushes
        *HTTP,
    },
    "sync": {
        "registry_monitor.probes.sync",
        "registry_monitor.judging.verdicts.sync",
        "registry_monitor.clients",
        "registry_monitor.clients.systemd",
        "registry_monitor.files.statefile",
        "registry_monitor.files.sync_state",  # the unit's record
        "registry_monitor.sync_guard",
        "registry_monitor.sync_guard.record",  # the guard's last refusal
    },
    "standby": {
        "registry_monitor.probes.standby",
        "registry_monitor.probes.divergence",  # what only one node holds
        "registry_monitor.judging.verdicts.standby",
        "registry_monitor.storage.*",  # its own tree, scanned; the canary left out
        "registry_monitor.files.sync_state",  # the last successful sync's start
        "registry_monitor.files.active_memory",  # what the active last said
        "registry_monitor.clients.systemd",  # asked when the sync's record has none
        "registry_monitor.clients.registry_api",
        "registry_monitor.files.statefile",
        *HTTP,
    },
}
MAY_LOAD["pull"] = {
    "registry_monitor.probes.pull",
    "registry_monitor.judging.verdicts.pull",
    "registry_monitor.clients.registry_api",
    *HTTP,
}
# parity fingerprints the certificates as the cert probe reads them, and asks the active
MAY_LOAD["parity"] = {
    "registry_monitor.probes.parity",
    "registry_monitor.judging.verdicts.parity",
    "registry_monitor.files.active_memory",  # what the active last said
    "registry_monitor.files.statefile",
    *MAY_LOAD["cert"],
    *HTTP,
}
MAY_LOAD["traffic"] = {
    "registry_monitor.probes.traffic",
    "registry_monitor.judging.verdicts.traffic",
    "registry_monitor.accesslog.*",
    "registry_monitor.journal.*",  # request durations from the registry's journal
    "registry_monitor.files.statefile",  # where the log was left off
}
NEVER = {"fastapi", "uvicorn", "starlette", "prometheus_client", "exporter", "yaml", "pydantic"}
NEVER |= {"msgspec", "registry_monitor.config.validation"}  # the Config is cached validated


def allowed(module: str, names: set[str]) -> bool:
    """Whether `names` allow `module`: a project module by its own name (or a "package.*"),
    any other by its package's name."""
    ours = module.split(".")[0] in PROJECT
    for name in names:
        if name.endswith(".*") and (module == name[:-2] or module.startswith(name[:-1])):
            return True
        if module == name or (not ours and module.startswith(f"{name}.")):
            return True
    return False


@pytest.mark.parametrize("probe", sorted(MAY_LOAD))
def test_each_probe_loads_only_what_it_names(tmp_path: Path, probe: str) -> None:
    """Fast start: a probe's check imports its own modules and nothing else of note: never
    the web stack, and never PyYAML or msgspec once the validated config is cached (by the
    first run)."""
    import subprocess

    role = "standby" if probe in ("sync", "standby") else "active"
    closed = closed_port()  # nothing answers: each probe fails fast, its imports all made
    config = write_config(
        tmp_path / "config.yaml",
        {
            "data_dir": str(tmp_path),
            "role": role,
            "state_dir": str(tmp_path / "state"),
            "backend_url": f"http://127.0.0.1:{closed}",
            "public_url": f"https://127.0.0.1:{closed}",
            "active_exporter_url": f"http://127.0.0.1:{closed}",
            "cert_file": None,
            "write_probe": True,
            "access_log": {"path": str(tmp_path / "access.log")},
        },
    )
    (tmp_path / "access.log").write_text("")
    # the check as its console script runs it, then what it loaded
    code = (
        "import sys\n"
        "from checks.plugin import run\n"
        "print(run(sys.argv[1:]).output.splitlines()[0])\n"
        "print(*sorted(sys.modules), file=sys.stderr)\n"
    )
    argv = [sys.executable, "-c", code, f"--config={config}", "-t", "5", probe]
    runs = [
        subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        for _ in range(2)  # the first parses the YAML and caches it
    ]
    for done in runs:
        assert done.stdout.startswith(f"REGISTRY {probe.upper()} "), done.stdout + done.stderr
    first, second = (set(done.stderr.split()) for done in runs)
    assert "yaml" in first and f"registry_monitor.probes.{probe}" in second  # real figures
    ours = {m for m in second if m.split(".")[0] not in sys.stdlib_module_names}
    ours -= {m for m in ours if m.startswith(("_", "__editable__"))}  # C parts, the finder
    unexpected = sorted(m for m in ours if not allowed(m, COMMON | MAY_LOAD[probe]))
    assert unexpected == []
    assert sorted(m for m in second if allowed(m, NEVER)) == []


def test_failover_is_judged_on_the_standby_only(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", {"role": "active", "data_dir": str(tmp_path)})
    run = run_check(config, "failover", "-v")
    assert (run.exit_code, run.state, run.text) == (
        3,
        "UNKNOWN",
        "failover readiness is judged on the standby; this node has role active",
    )
    bad = run_check(config, "failover", "-w", "5")
    assert (bad.exit_code, bad.text) == (
        3,
        "-w/-c/-W/-K/--unit apply to one probe; `failover` takes its thresholds from the "
        "config (see check_registry --help)",
    )
