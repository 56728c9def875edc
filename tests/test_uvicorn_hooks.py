"""exporter/connections.py hooks into uvicorn's internal H11Protocol: the hooks must still be there.

pyproject.toml admits only the uvicorn versions this was tested with. Before the
bound is raised, these tests tell whether a new release still has each method
the guard overrides, with the parameters it passes on, and still calls it: a
renamed method would leave the override never called and the guard silently
gone (idle connections would again hold the exporter's connection slots).
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from exporter.connections import GuardedH11Protocol, guarded_protocol
from testbed.waiting import wait_until

# Each method the guard overrides, with the parameters it calls the base class's with.
HOOKS = {
    "__init__": None,  # takes and passes on whatever the base takes
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "handle_events": ["self"],
    "on_response_complete": ["self"],
}


def test_every_method_the_guard_overrides_is_the_base_class_own_with_those_parameters() -> None:
    overridden = {
        name
        for name, member in vars(GuardedH11Protocol).items()
        if callable(member) and hasattr(H11Protocol, name)
    }
    assert overridden == set(HOOKS)  # a hook renamed upstream drops out of this set
    for name, parameters in HOOKS.items():
        assert name in vars(H11Protocol), name  # defined there, not inherited from asyncio
        if parameters is not None:
            assert list(inspect.signature(getattr(H11Protocol, name)).parameters) == parameters


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


class Server:
    """uvicorn on a socket of 127.0.0.1 with a protocol class that records its hooks' calls."""

    def __init__(self, protocol: type[GuardedH11Protocol]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = self.sock.getsockname()
        config = uvicorn.Config(app, http=protocol, log_config=None, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=asyncio.run, args=(self.server.serve(sockets=[self.sock]),), daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "uvicorn started")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def recording(calls: list[str], made: list[GuardedH11Protocol]) -> type[GuardedH11Protocol]:
    base = guarded_protocol(header_timeout=10.0, max_connections=8)

    def hook(name: str) -> Any:
        def called(self: GuardedH11Protocol, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            if name == "connection_made":
                made.append(self)
            return getattr(base, name)(self, *args, **kwargs)

        return called

    return type("Recording", (base,), {name: hook(name) for name in HOOKS})


@pytest.fixture
def recorded() -> Iterator[tuple[list[str], list[GuardedH11Protocol], Server]]:
    calls: list[str] = []
    made: list[GuardedH11Protocol] = []
    server = Server(recording(calls, made))
    try:
        server.start()
        yield calls, made, server
    finally:
        server.stop()


def test_uvicorn_calls_every_hook_of_the_guard_and_it_sees_what_it_reads(
    recorded: tuple[list[str], list[GuardedH11Protocol], Server],
) -> None:
    seen, made, server = recorded
    with socket.create_connection(server.address, timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"\r\n\r\nok"):
            chunk = client.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        (protocol,) = made
        assert protocol in protocol.connections  # the server's set, which the cap counts
        # Once the response is complete (the server may finish it after the client has
        # read it), the kept-alive connection waits for a request again, with a timer:
        wait_until(
            lambda: (
                protocol.cycle is not None
                and protocol.cycle.response_complete
                and list(protocol.guard.waiting) == [protocol]
            ),
            10,
            "the connection idle again",
        )
        assert protocol.timer is not None
    wait_until(lambda: "connection_lost" in seen, 10, "the closed connection seen")
    # Each hook called (how often handle_events runs is uvicorn's own business):
    assert set(seen) == set(HOOKS)
    assert (seen[:2], seen[-1]) == (["__init__", "connection_made"], "connection_lost")
    assert protocol.timer is None and not protocol.guard.waiting
