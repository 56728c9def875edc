"""A TCP server that answers HTTP as slowly as a failing network or a hostile peer would.

Modes: `silent` reads the request and never answers; `head` sends the status
line, then its headers one byte per step, never finishing them; `body` sends a
registry's complete head, then the body one byte per step. pytest-httpserver
cannot drip a head, and a real registry never does either.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


def head(size: int) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: application/json\r\n"
        b"Docker-Distribution-Api-Version: registry/2.0\r\n"
        b"Content-Length: %d\r\n"
        b"\r\n" % size
    )


class Trickle:
    def __init__(self, mode: str, step: float = 0.1, size: int = 4096) -> None:
        assert mode in ("silent", "head", "body"), mode
        self.mode, self.step, self.size = mode, step, size
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.clients: list[socket.socket] = []
        self.sent = 0  # bytes dripped so far (head or body), over all connections
        self.threads = [threading.Thread(target=self.accept, daemon=True)]
        self.threads[0].start()

    def accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.clients.append(client)
            worker = threading.Thread(target=self.answer, args=(client,), daemon=True)
            self.threads.append(worker)
            worker.start()

    def answer(self, client: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                data = client.recv(4096)
                if not data:
                    return
                request += data
            if self.mode == "silent":
                self.stopping.wait()
                return
            if self.mode == "body":
                client.sendall(head(self.size))
                drip = b"{" + b" " * (self.size - 2) + b"}"
            else:
                drip = head(self.size)
            for i in range(len(drip)):
                if self.stopping.wait(self.step):
                    return
                client.sendall(drip[i : i + 1])
                self.sent += 1
        except OSError:
            return

    def close(self) -> None:
        self.stopping.set()
        for sock in (self.listener, *self.clients):
            with contextlib.suppress(OSError):  # shutdown, not close, wakes a blocked call
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self.threads:
            thread.join(5)

    def __enter__(self) -> Trickle:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
