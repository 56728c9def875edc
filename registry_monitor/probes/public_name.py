"""Where the public name points: public_url's host, resolved as clients resolve it.

The pair is switched by DNS or a floating IP. A node does not see a floating IP
on its own interfaces, so it is told its public addresses (`public_addresses`)
and compares them with what the system resolver answers for public_url's host.
Resolution runs in a worker thread bounded by the probe's deadline: getaddrinfo
itself has no time-out, and a stalled resolver must cost a reading, not a
probe thread. No traffic goes to the resolved addresses.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

RESOLVE_SECONDS = 2.0  # at most, within the probe's deadline: a resolver is fast or stuck


@dataclass(frozen=True, slots=True)
class PublicName:
    """What the resolver answers for public_url's host, beside this node's addresses."""

    host: str
    resolves: bool
    addresses: tuple[str, ...]  # what the resolver answered, sorted
    public_addresses: tuple[str, ...] | None  # this node's, from the config; None: not told
    role: str  # this node's: the name must point at the active
    error: str | None = None

    @property
    def points_here(self) -> bool | None:
        """True when an answer is one of this node's public addresses; None when not told."""
        if self.public_addresses is None:
            return None
        return any(a in self.public_addresses for a in self.addresses)

    def summary(self) -> str:
        if not self.resolves:
            return f"{self.host} does not resolve ({self.error})"
        where = {True: "here", False: "elsewhere", None: "(here unknown)"}[self.points_here]
        return f"{self.host} -> {', '.join(self.addresses)} {where}"


def normalise(address: str) -> str:
    """An address in one spelling (IPv6 compressed, zone dropped), for comparison."""
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


def _lookup(host: str) -> tuple[str, ...]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return tuple(sorted({normalise(str(info[4][0])) for info in infos}))


def resolve(
    public_url: str, public_addresses: tuple[str, ...] | None, role: str, timeout: float
) -> PublicName:
    host = urlsplit(public_url).hostname or ""
    mine = tuple(normalise(a) for a in public_addresses) if public_addresses is not None else None
    result: list[tuple[str, ...] | BaseException] = []

    def work() -> None:
        try:
            result.append(_lookup(host))
        except (OSError, UnicodeError, ValueError) as exc:
            result.append(exc)

    worker = threading.Thread(target=work, name="resolve-public-name", daemon=True)
    worker.start()
    limit = max(0.05, min(RESOLVE_SECONDS, timeout))
    worker.join(limit)
    if not result:
        return PublicName(host, False, (), mine, role, f"resolver gave no answer in {limit:.3g}s")
    answer = result[0]
    if isinstance(answer, BaseException):
        reason = answer.strerror if isinstance(answer, OSError) and answer.strerror else answer
        return PublicName(host, False, (), mine, role, str(reason))
    return PublicName(host, bool(answer), answer, mine, role, None if answer else "no addresses")
