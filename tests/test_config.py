import subprocess
from pathlib import Path

import pytest

from registry_monitor.config import Config, ConfigError
from registry_monitor.config.loading import load_config
from registry_monitor.config.validation import parse_config
from tests.support.reasons import msgspec_reason, yaml_reason


def test_defaults_describe_the_toolforge_pair() -> None:
    c = Config(node="n")
    assert c.role == "active"
    assert c.data_dir == Path("/srv/registry")
    assert c.watched_services == ("docker-registry.service", "nginx.service", "rsync.service")
    assert Config(node="n", role="standby").watched_services == (
        "docker-registry.service",
        "nginx.service",
    )
    assert c.sync_unit == "rsync-docker-registry-sync.service"
    assert c.backend_url == "http://127.0.0.1:5000"
    assert c.public_url == "https://docker-registry.tools.wmflabs.org"
    assert c.cert_file == Path("/etc/acmecerts/toolforge/live/ec-prime256v1.chained.crt")
    assert c.listen == "0.0.0.0:9623"
    assert (c.thresholds.disk_used_percent.warning, c.thresholds.disk_used_percent.critical) == (
        80,
        90,
    )
    assert (c.thresholds.cert_days_left.warning, c.thresholds.cert_days_left.critical) == (21, 7)
    assert (
        c.thresholds.standby_lag_seconds.warning,
        c.thresholds.standby_lag_seconds.critical,
    ) == (
        1800,
        3600,
    )
    assert c.write_canary_repository == "registry-monitor-canary"


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("")
    assert load_config(path).role == "active"


def test_probes_follow_the_role() -> None:
    assert Config(role="active").probes_for_role() == (
        "disk",
        "services",
        "api",
        "cert",
        "write",
        "storage",
        "sync",  # on the active too: there it must not run
        "pull",
        "parity",
    )
    assert Config(role="standby").probes_for_role() == (
        "disk",
        "services",
        "api",
        "cert",
        "storage",
        "sync",
        "standby",
        "pull",
        "parity",
    )
    assert "write" not in Config(role="active", write_probe=False).probes_for_role()


def test_the_traffic_probe_runs_where_an_access_log_is_configured() -> None:
    c = parse_config({"role": "standby", "access_log": {"path": "/var/log/nginx/access.log"}})
    assert c.probes_for_role()[-3:] == ("pull", "parity", "traffic")
    assert c.access_log is not None
    assert (c.access_log.path, c.access_log.format) == (
        Path("/var/log/nginx/access.log"),
        "combined",
    )
    # puppet's combined log has no durations: the registry's journal has them
    assert (c.access_log.duration_source, c.access_log.journal_unit) == (
        "journal",
        "docker-registry.service",
    )


@pytest.mark.parametrize(
    ("given", "source"),
    [
        ({"format": "registry_monitor"}, "access_log"),
        ({"format": "registry_monitor", "durations": "journal"}, "journal"),
        ({"durations": "none"}, "none"),
    ],
)
def test_the_duration_source(given: dict[str, str], source: str) -> None:
    c = parse_config({"access_log": {"path": "/var/log/nginx/access.log", **given}})
    assert c.access_log is not None and c.access_log.duration_source == source


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("thresholds:\n  disk_used_percnt: {warning: 1, critical: 2}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert text.startswith(f"{path}: invalid configuration")
    assert "thresholds.disk_used_percnt: unknown key" in text


def test_wrong_type_names_key_and_value(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("role: primary\nthresholds:\n  cert_days_left: {warning: soon, critical: 7}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "role: expected one of 'active', 'standby' (got 'primary')" in text
    # msgspec's reason, our key and value around it
    why = msgspec_reason("thresholds", {"cert_days_left": {"warning": "soon", "critical": 7}})
    assert f"thresholds.cert_days_left.warning: {why} (got 'soon')" in text


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("backend_url: ftp://x\n", "backend_url: expected an http:// or https:// URL"),
        ("listen: 9623\n", f"listen: {msgspec_reason('listen', 9623)} (got 9623)"),
        ("listen: 'localhost'\n", "listen: expected HOST:PORT"),
        (
            "catalog_page_size: 5000\n",
            f"catalog_page_size: {msgspec_reason('catalog_page_size', 5000)} (got 5000)",
        ),
        ("intervals: {api: 5}\n", "timeouts.api (10s) is longer than intervals.api (5s)"),
        (
            "intervals: {api: 0}\n",
            f"intervals.api: {msgspec_reason('intervals', {'api': 0})} (got 0)",
        ),
        (
            "services: [a.service, 5]\n",
            f"services[1]: {msgspec_reason('services', ['a.service', 5])} (got 5)",
        ),
        (
            "thresholds: {api_latency_seconds: {warning: 1}}\n",
            "thresholds.api_latency_seconds.critical: required key missing",
        ),
        ("data_dir: 5\n", "data_dir: Expected a path (a string) (got 5)"),
        (
            "access_log: {path: /x, format: json}\n",
            "access_log.format: expected one of 'combined', 'registry_monitor' (got 'json')",
        ),
        ("access_log: {format: combined}\n", "access_log.path: required key missing"),
        (
            "access_log: {path: /x, durations: access_log}\n",
            "access_log.durations: access_log needs access_log.format registry_monitor "
            "(the combined format has no durations); use journal or none",
        ),
        (
            "access_log: {path: /x, durations: nginx}\n",
            "access_log.durations: expected one of 'auto', 'journal', 'access_log', 'none' "
            "(got 'nginx')",
        ),
        (
            "access_log: {path: /x, journal_unit: ' '}\n",
            "access_log.journal_unit: empty (the registry's unit, e.g. docker-registry.service)",
        ),
        (
            "sync_guard: {max_delete_percent: 150}\n",
            "sync_guard.max_delete_percent: ",  # the bound in msgspec's words, then the value
        ),
        (
            "sync_guard: {when_unknown: maybe}\n",
            "sync_guard.when_unknown: expected one of 'allow', 'refuse' (got 'maybe')",
        ),
        (
            "sync_guard: {source: 'http://reg-a1/docker-registry-sync'}\n",
            "sync_guard.source: expected an rsync:// URL with a host "
            "(got 'http://reg-a1/docker-registry-sync')",
        ),
        ("sync_guard: {max_delete: 5}\n", "sync_guard.max_delete: unknown key"),
        ("- a\n- b\n", "expected a mapping of keys at the top level"),
        ("role: [unclosed\n", f"not valid YAML: {yaml_reason('role: [unclosed')}"),
    ],
)
def test_bad_values(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path))
    assert expected in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml")
    assert (
        str(err.value)
        == f"{tmp_path / 'nope.yaml'}: cannot read config file: No such file or directory"
    )


def test_urls_lose_a_trailing_slash() -> None:
    c = parse_config({"backend_url": "http://127.0.0.1:5000/", "data_dir": "/data"}, "x")
    assert (c.backend_url, c.data_dir) == ("http://127.0.0.1:5000", Path("/data"))


def test_a_config_built_in_code_is_checked_and_normalised_as_a_file_is() -> None:
    with pytest.raises(ValueError, match=r"^backend_url: expected an http:// or https:// URL"):
        Config(backend_url="ftp://x")
    changed = Config(node="n").replace(backend_url="http://x/")
    assert changed.backend_url == "http://x"
    # the NamedTuple's own _replace goes through the same checks
    assert Config(node="n")._replace(public_url="https://y/").public_url == "https://y"
    with pytest.raises(ValueError, match=r"^listen: expected HOST:PORT"):
        Config(node="n")._replace(listen="9623")


def test_no_two_configs_share_a_default_dict() -> None:
    first, second = Config(node="a"), Config(node="b")
    first.parity_files["extra"] = Path("/x")
    first.parity_ignore_lines["extra"] = ("^#",)
    assert "extra" not in second.parity_files
    assert "extra" not in Config(node="c").parity_files
    assert second.parity_ignore_lines == Config(node="c").parity_ignore_lines == {}


def test_the_node_is_this_hosts_name_unless_given(tmp_path: Path) -> None:
    import os

    host = os.uname().nodename
    assert (Config().node, Config(node="").node, Config(node="n").node) == (host, host, "n")
    path = tmp_path / "c.yaml"
    path.write_text('node: ""\n')
    with pytest.raises(ConfigError, match=r"\n  node: "):  # a file that names it must fill it
        load_config(path)


def test_a_pickled_config_comes_back_unchanged_without_being_checked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pickle

    from registry_monitor.config import rules

    config = Config(node="n", role="standby", parity_ignore_lines={"nginx_site": ("^#",)})
    data = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)

    def refuse(_: Config) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(rules, "problems_of", refuse)
    back = pickle.loads(data)
    assert (type(back), back) == (Config, config)
    assert (type(back.intervals), back.intervals) == (type(config.intervals), config.intervals)


def test_parse_keeps_values() -> None:
    c = parse_config(
        {"node": "tools-docker-registry-04", "role": "standby", "canary_images": ["a:b"]}, "x"
    )
    assert (c.node, c.role, c.canary_images, c.runs("write")) == (
        "tools-docker-registry-04",
        "standby",
        ("a:b",),
        False,
    )


def test_a_bad_token_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("api_token: [s3cr3t-value]\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"api_token: {msgspec_reason('api_token', ['s3cr3t-value'])}" in str(err.value)
    assert "s3cr3t" not in str(err.value)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("CHANGE-ME-to-a-long-random-string", "still the example's placeholder"),
        ("hunter2", "shorter than 16 characters"),
        ("a long pass phrase", "holds spaces or control characters: no client can send it"),
    ],
)
def test_a_guessable_or_unsendable_token_stops_start_up(
    tmp_path: Path, token: str, why: str
) -> None:
    """The exporter exits 2 naming the file and the key, never the token."""
    from testbed.exporter import exporter_argv

    path = tmp_path / "c.yaml"
    path.write_text(f"api_token: {token}\n")
    done = subprocess.run(
        [*exporter_argv(), "--config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (2, "")
    lines = done.stderr.splitlines()
    assert lines[0] == f"registry-exporter: {path}: invalid configuration:"
    assert lines[1].startswith(f"  api_token: {why}")
    assert token not in done.stderr


def test_a_long_random_token_is_taken() -> None:
    assert parse_config({"api_token": "3f9c1e0b7a5d42c8"}).api_token == "3f9c1e0b7a5d42c8"
