"""check_registry's certificate facts file, damaged: what a run costs reading it.

    python -m bench.cert_facts [--flips N]

Each case runs in a process of its own (peak RSS is per process), with its
address space capped at 2 GiB: the store is loaded, a good file is written
for two certificates, the file is damaged as the case says, and the facts of
one certificate are asked for, once per damaged file. Prints, per case, how
many answers were cryptography's own reading (all must be), the slowest
answer, and the process's peak RSS beside a run with no file at all. The
last case is the file as marshal kept it before (same rows, bytes flipped):
what the old format did with the same damage.
"""

from __future__ import annotations

import argparse
import hashlib
import marshal
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CAP = 2 << 30  # address space of each case's process
CASES = ["no file", "good", "flips", "cuts", "2 MiB", "nesting", "digits", "zeros", "marshal"]


def sealed(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def flips(data: bytes, n: int) -> list[bytes]:
    out = []
    for seed in range(n):
        rng = random.Random(seed)
        at = rng.randrange(len(data))
        new = rng.choice([b for b in range(256) if b != data[at]])
        out.append(data[:at] + bytes([new]) + data[at + 1 :])
    return out


def damaged(case: str, good: bytes, n: int) -> list[bytes]:
    near = 1 << 20  # within the 1 MiB the store reads; a right digest: only decoding stops it
    if case == "flips":
        return flips(good, n)
    if case == "cuts":
        return [good[:cut] for cut in range(0, len(good), max(1, len(good) // n))]
    if case == "2 MiB":
        return [good + b" " * (2 << 20)]
    if case == "nesting":
        return [sealed(b"[" * (near // 2 - 40) + b"]" * (near // 2 - 40))]
    if case == "digits":
        return [sealed(b'{"made_by":' + b"9" * (near - 200) + b',"facts":{}}')]
    if case == "zeros":
        return [sealed(b"[" + b"0," * (near // 2 - 40) + b"0]")]
    return [good]


def child(case: str, n: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))
    import trustme

    from registry_monitor.tls import certfacts
    from registry_monitor.tls.chain_verify import pem_chain

    ca = trustme.CA()
    ders = [
        pem_chain(b"".join(p.bytes() for p in ca.issue_cert(name).cert_chain_pems))[0]
        for name in ("a.test", "b.test")
    ]
    truth = certfacts.read_facts(ders[1])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cert-facts.json"
        for der in ders:
            certfacts.FactsStore(path, clock=lambda: 1e9).facts(der)
        good = path.read_bytes()
        if case == "marshal":
            row = (*truth[1:7], int(1e9 // 86400))  # as format 1 kept it: no addresses
            old = marshal.dumps(("made by", {truth.fingerprint: row}))
            report(case, *marshal_runs(flips(old, n), truth.fingerprint, row))
            return
        files = [] if case == "no file" else damaged(case, good, n)
        right, worst = 0, 0.0
        for data in files or [b""]:
            path.unlink(missing_ok=True)
            if files:
                path.write_bytes(data)
                path.chmod(0o600)
            began = time.perf_counter()
            got = certfacts.FactsStore(path, clock=lambda: 1e9).facts(ders[1])
            worst = max(worst, time.perf_counter() - began)
            right += got == truth
        report(case, right, len(files or [b""]), worst, 0)


def marshal_runs(
    files: list[bytes], key: str, row: tuple[object, ...]
) -> tuple[int, int, float, int]:
    """As the old store read them: (right answers, runs, slowest, MemoryErrors)."""
    right, worst, memory = 0, 0.0, 0
    for data in files:
        began = time.perf_counter()
        try:
            doc = marshal.loads(data)
            rows = doc[1] if isinstance(doc, tuple) and len(doc) == 2 else None
            served = rows.get(key) if isinstance(rows, dict) else None
            # the old store served a row of the right types; anything else was read again
            right += not plausible(served) or served == row
        except MemoryError:
            memory += 1
        except Exception:  # garbled: read again, right
            right += 1
        worst = max(worst, time.perf_counter() - began)
    return right, len(files), worst, memory


def plausible(row: object) -> bool:
    """The checks the marshal store made of a row before serving it."""
    if not (isinstance(row, tuple) and len(row) == 7):
        return False
    strings, dates, names, day = row[:3], row[3:5], row[5], row[6]
    return (
        all(isinstance(s, str) for s in strings)
        and all(isinstance(t, float) for t in dates)
        and isinstance(names, tuple)
        and all(isinstance(n, str) for n in names)
        and isinstance(day, int)
        and not isinstance(day, bool)
    )


def report(case: str, right: int, runs: int, worst: float, memory: int) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra = f", MemoryError at the 2 GiB cap: {memory}" if case == "marshal" else ""
    print(
        f"{case:8} right {right}/{runs}, slowest {worst * 1000:6.1f} ms, "
        f"peak RSS {peak / 1024:5.1f} MiB{extra}",
        flush=True,
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flips", type=int, default=300, help="damaged files per case")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)  # a child's
    args = parser.parse_args(argv)
    if args.case:
        child(args.case, args.flips)
        return 0
    for case in CASES:
        command = [sys.executable, "-m", "bench.cert_facts", "--case", case]
        subprocess.run([*command, "--flips", str(args.flips)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
