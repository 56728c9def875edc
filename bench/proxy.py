"""A TCP proxy on loopback that counts the bytes it carries each way.

Put between the standby exporter and the active's, it measures what an
inventory fetch costs on the wire: request and response, headers and body,
as TCP payload (the IP and TCP headers of each segment come on top).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


class CountingProxy:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.sent = 0  # client -> target (requests)
        self.received = 0  # target -> client (responses)
        self.connections = 0
        self._lock = threading.Lock()
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def counts(self) -> tuple[int, int]:
        """(bytes of requests, bytes of responses) so far."""
        with self._lock:
            return self.sent, self.received

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, request: bool) -> None:
        try:
            while data := src.recv(65536):
                with self._lock:  # counted before the other side can see it
                    if request:
                        self.sent += len(data)
                    else:
                        self.received += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._closing = True
        self.listener.close()


@contextlib.contextmanager
def counting_proxy(target_port: int) -> Iterator[CountingProxy]:
    proxy = CountingProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()
