"""Rendering readings: outside label values are escaped and capped."""

import time

from prometheus_client import generate_latest

from exporter.metrics import MAX_LABEL_LENGTH, ReadingsCollector, build_registry
from registry_monitor.config import Config
from registry_monitor.probes.api import ApiStatus, EndpointStatus, ManifestStatus
from registry_monitor.probes.reading import Reading
from tests.support.metrics import samples


def render(reading: Reading[object]) -> str:
    collector = ReadingsCollector(Config(node="n"), ("api",), lambda: {"api": reading})
    return generate_latest(build_registry(collector)).decode()


def api_reading(image: str) -> Reading[object]:
    manifest = ManifestStatus(image, False, 404, None, "not found")
    endpoint = EndpointStatus("backend", "http://x", True, 200, 0.01, None, None, (manifest,))
    return Reading("api", time.time(), 0.02, ApiStatus((endpoint,)))


def test_odd_characters_are_escaped() -> None:
    image = 'evil"\nname\\x:latest'
    text = render(api_reading(image))
    assert 'image="evil\\"\\nname\\\\x:latest"' in text
    assert (
        samples(text)[
            ("registry_monitor_manifest_up", frozenset({("endpoint", "backend"), ("image", image)}))
        ]
        == 0
    )


def test_long_label_values_are_capped() -> None:
    text = render(api_reading("a" * 5000 + ":latest"))
    (image,) = [
        dict(labels)["image"]
        for (name, labels) in samples(text)
        if name == "registry_monitor_manifest_up"
    ]
    assert image == "a" * (MAX_LABEL_LENGTH - 1) + "…"


def test_the_node_label_is_capped_like_every_other() -> None:
    collector = ReadingsCollector(Config(node="n" * 5000), (), dict)
    text = generate_latest(build_registry(collector)).decode()
    (node,) = [
        dict(labels)["node"]
        for (name, labels) in samples(text)
        if name == "registry_monitor_node_info"
    ]
    assert node == "n" * (MAX_LABEL_LENGTH - 1) + "…"


def test_a_broken_renderer_costs_only_its_probe() -> None:
    bad = Reading("api", time.time(), 0.02, "not an ApiStatus")
    text = render(bad)  # type: ignore[arg-type]
    assert 'registry_monitor_probe_success{probe="api"} 1.0' in text
    assert "registry_monitor_api_up" not in text
