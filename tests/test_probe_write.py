"""write probe: a real push of a fixed blob, leaving nothing behind."""

from pathlib import Path

from registry_monitor.base import Deadline
from registry_monitor.config import Config
from registry_monitor.probes.api import ApiProbe
from registry_monitor.probes.reading import run_probe
from registry_monitor.probes.write import WriteProbe
from registry_monitor.storage.canary import CANARY_DIGEST
from testbed.registry import Registry


def blobs(registry: Registry) -> list[Path]:
    return sorted((registry.v2 / "blobs").rglob("data"))


def test_repeated_writes_store_one_blob_and_leave_no_upload(registry: Registry) -> None:
    probe = WriteProbe(Config(backend_url=registry.url))
    for _ in range(3):
        r = run_probe(probe, Deadline(5))
        assert r.ok
        assert (
            r.value.endpoint,
            r.value.repository,
            r.value.up,
            r.value.status_code,
            r.value.error,
        ) == (
            "backend",
            "registry-monitor-canary",
            True,
            201,
            None,
        )
    hexdigest = CANARY_DIGEST.removeprefix("sha256:")
    assert blobs(registry) == [
        registry.v2 / "blobs" / "sha256" / hexdigest[:2] / hexdigest / "data"
    ]
    uploads = registry.v2 / "repositories" / "registry-monitor-canary" / "_uploads"
    assert list(uploads.iterdir()) == []


def test_read_only_registry_answers_v2_but_refuses_writes(tmp_path: Path) -> None:
    reg = Registry(
        tmp_path / "ro",
        extra_config={
            "storage": {
                "filesystem": {"rootdirectory": str(tmp_path / "ro" / "data")},
                "maintenance": {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}},
            }
        },
    ).start()
    try:
        config = Config(backend_url=reg.url, public_url=reg.url, cert_file=None)
        write = run_probe(WriteProbe(config), Deadline(5)).value
        api = run_probe(ApiProbe(config), Deadline(5)).value
    finally:
        reg.stop()
    assert api.endpoints[0].up is True
    assert (write.up, write.status_code) == (False, 405)
    assert write.error is not None and write.error.startswith(
        "starting an upload answered HTTP 405"
    )


def test_registry_down(registry: Registry) -> None:
    registry.stop()
    r = run_probe(WriteProbe(Config(backend_url=registry.url)), Deadline(5))
    assert (r.ok, r.value.up, r.value.status_code, r.value.error) == (
        True,
        False,
        None,
        "connection refused",
    )
