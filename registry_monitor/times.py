"""Every way a verdict, the failover answer or a log line writes a time: UTC, by name.

One module, so that one format has one name: `when` for a moment to the second,
`day_minute` where minutes are enough (a certificate's end), `hour_minute` and
`clock` inside the failover answer, where the day is the current one. It sits
beside base.py, below the probes and judging both: the sync guard's record,
which the sync probe reads, writes a time too.
"""

from __future__ import annotations

import time


def when(unix: float) -> str:
    """A moment to the second: 2026-12-06 09:30:00 UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))


def day_minute(unix: float) -> str:
    """2026-12-06 09:30 UTC."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix))


def hour_minute(unix: float) -> str:
    """09:30 UTC."""
    return time.strftime("%H:%M UTC", time.gmtime(unix))


def clock(unix: float) -> str:
    """09:30:00 (the caller says UTC, or the clock whose it is)."""
    return time.strftime("%H:%M:%S", time.gmtime(unix))
