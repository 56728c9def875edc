"""`registry-exporter`: run the probes in the background and serve their readings."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from exporter.connections import DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS
from exporter.scheduler import Scheduler
from exporter.wire import WritingWireForm
from registry_monitor import __version__
from registry_monitor.config import Config, ConfigError
from registry_monitor.config.loading import load_config
from registry_monitor.probe_catalog import spec
from registry_monitor.probes import Shared, build_probe
from registry_monitor.probes.reading import ProbeRunner

log = logging.getLogger("registry_exporter")


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < 3600:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 3600 seconds")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="registry-exporter",
        description="Prometheus exporter for an active/standby Docker registry pair.",
    )
    parser.add_argument("--config", type=Path, help="YAML config file (default: all defaults)")
    parser.add_argument(
        "--web.listen-address",
        dest="listen",
        metavar="HOST:PORT",
        help="address to serve on (default: the config's listen, 0.0.0.0:9623)",
    )
    parser.add_argument(
        "--log.level",
        dest="log_level",
        default="info",
        choices=["debug", "info", "warning", "error"],
    )
    parser.add_argument(
        "--web.header-timeout",
        dest="header_timeout",
        type=positive_float,
        default=DEFAULT_HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection that sends no complete request head for this long "
        f"(default {DEFAULT_HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--web.max-connections",
        dest="max_connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="past this many open connections, close the one idle longest "
        f"(default {DEFAULT_MAX_CONNECTIONS})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def build_scheduler(config: Config) -> tuple[Scheduler, dict[str, float]]:
    runners = []
    intervals: dict[str, float] = {}
    shared = Shared(config)
    for name in config.probes_for_role():
        interval = config.intervals.of(name)
        probe = build_probe(name, config, shared)
        if spec(name).serves_inventory:
            probe = WritingWireForm(probe)
        runners.append((ProbeRunner(probe, config.timeouts.of(name)), interval))
        intervals[name] = interval
    return Scheduler(runners), intervals


def split_listen(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
        if args.listen:
            config = config.replace(listen=args.listen)
            host, port = split_listen(args.listen)
        else:
            host, port = split_listen(config.listen)
    except (ConfigError, ValueError) as exc:
        print(f"registry-exporter: {exc}", file=sys.stderr)
        return 2

    import uvicorn  # the web stack is loaded only once the config is good

    from exporter.connections import RateLimitFilter, guarded_protocol, room_for_connections
    from exporter.memory import tune_malloc
    from exporter.server import create_app

    tune_malloc()
    max_connections = room_for_connections(max(16, args.max_connections))
    if max_connections < args.max_connections:
        log.warning("open-files limit fits only %d connections", max_connections)
    throttle = RateLimitFilter()
    for name in ("uvicorn.error", "registry_exporter.connections"):
        logging.getLogger(name).addFilter(throttle)

    if config.api_token is None:
        log.warning(
            "no api_token: /api/status and /api/inventory are open to anyone who reaches "
            "%s:%d (/api/parity is not served); set api_token (docs/configuration.md)",
            host,
            port,
        )
    scheduler, intervals = build_scheduler(config)
    app = create_app(config, scheduler, intervals)
    log.info(
        "registry-exporter %s: node %s, role %s, probes %s, listening on %s:%d",
        __version__,
        config.node,
        config.role,
        ",".join(scheduler.probe_names),
        host,
        port,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            # uvicorn's limit_concurrency counts idle connections (63 of them made every
            # request a 503) and nothing closes a connection before its first request:
            # the guarded protocol times out request heads and caps connections instead.
            http=guarded_protocol(args.header_timeout, max_connections),
            h11_max_incomplete_event_size=16 * 1024,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
        )
    )
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal
    # to the handler that was there before it; make that one a no-op so a clean
    # shutdown exits 0 instead of dying by the signal.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    server.run()
    log.info("registry-exporter stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
