"""A TCP server that answers each HTTP request with the exact bytes a test chose.

For framing a real registry never gets wrong and pytest-httpserver cannot
get wrong on purpose: a body cut short of its Content-Length or mid-chunk, a
status line that is not HTTP, a keep-alive connection closed while idle. It
keeps connections open between requests (HTTP/1.1 keep-alive) and counts
them, and keeps every request head it read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Answer:
    data: bytes  # sent as it is
    close: bool = False  # then close the connection (without saying so in a header)


def ok(body: bytes = b"ok", *headers: str) -> Answer:
    head = "".join(f"{h}\r\n" for h in headers)
    return Answer(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), head.encode(), body)
    )


class Canned:
    def __init__(self, answer: Callable[[str], Answer]) -> None:
        """`answer(request head)`: what to send back."""
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[str] = []
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released each time this side closes one
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.sockets.append(client)
            worker = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self.threads.append(worker)
            worker.start()

    def _serve(self, client: socket.socket) -> None:
        buffered = b""
        try:
            while True:
                while b"\r\n\r\n" not in buffered:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                text = head.decode("latin-1")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in text.split("\r\n")
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                while len(buffered) < length:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffered += data
                buffered = buffered[length:]
                self.requests.append(text)
                answer = self.answer(text)
                client.sendall(answer.data)
                if answer.close:
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
            self.closed.release()

    def close(self) -> None:
        for sock in (self.listener, *self.sockets):
            with contextlib.suppress(OSError):  # shutdown, not close, wakes a blocked call
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self.threads:
            thread.join(5)

    def __enter__(self) -> Canned:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
