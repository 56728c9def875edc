"""HTTP from the test into a network namespace the test made, with nothing in between.

A daemon started with `ip netns exec` (Prometheus and Alertmanager beside real hosts)
listens on that namespace's loopback, which the test's own namespace cannot reach. A
socket belongs to the namespace its creating thread was in when it was made, and
`setns(2)` with CLONE_NEWNET moves only the calling thread: so a short-lived thread joins
the namespace, connects, and hands the connected socket back. `session_in` gives a
requests session whose every connection is made that way; the outside network is never
touched, and no address is added outside the namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from typing import Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _join(path: str) -> None:
    """Move the calling thread into the network namespace at `path` (/run/netns/<name>)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def connect_in(path: str, address: tuple[str, int], timeout: float | None) -> socket.socket:
    """A TCP connection to `address` as seen from inside the namespace at `path`."""
    made: dict[str, Any] = {}

    def inside() -> None:  # the thread ends in the namespace: it is never reused
        try:
            _join(path)
            made["socket"] = socket.create_connection(address, timeout)
        except BaseException as exc:  # handed to the caller's thread
            made["error"] = exc

    thread = threading.Thread(target=inside, name=f"connect in {path}")
    thread.start()
    thread.join()
    if "error" in made:
        raise made["error"]
    sock: socket.socket = made["socket"]
    return sock


def session_in(path: str) -> requests.Session:
    """A session whose plain-HTTP connections are all made inside the namespace."""

    class Connection(urllib3.connection.HTTPConnection):
        def _new_conn(self) -> socket.socket:
            timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
            return connect_in(path, (self._dns_host, self.port), timeout)

    class Pool(urllib3.connectionpool.HTTPConnectionPool):
        ConnectionCls = Connection

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool}

    session = requests.Session()
    session.trust_env = False  # never through a proxy
    session.mount("http://", Adapter())
    return session
