"""Measuring helpers: RSS sampling from /proc, percentiles, an SMTP server that
time-stamps every hand-off."""

from __future__ import annotations

import math
import os
import resource
import socket
import threading
import time

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def max_rss_bytes() -> int:
    """Peak RSS of this process over its whole life (kernel's high-water mark)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RssSampler:
    """Samples this process's RSS every `interval` seconds in a thread; `window()`
    starts a named window, whose peak is read with `peak(name)`."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.starts: dict[str, int] = {}
        self._open: set[str] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _sample(self) -> None:
        value = rss_bytes()
        with self._lock:
            for name in self._open:
                if value > self.peaks[name]:
                    self.peaks[name] = value

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def open(self, name: str) -> None:
        value = rss_bytes()
        with self._lock:
            self.starts[name] = value
            self.peaks[name] = value
            self._open.add(name)

    def close(self, name: str) -> None:
        self._sample()
        with self._lock:
            self._open.discard(name)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TimingSmtp:
    """aiosmtpd on 127.0.0.1 that accepts everything and records, per recipient,
    the moment (time.perf_counter) the message was handed off (DATA received)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, float] = {}
        self.messages = 0
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001 - aiosmtpd's hook
        now = time.perf_counter()
        for recipient in envelope.rcpt_tos:
            self.received.setdefault(recipient.lower(), now)
        self.messages += 1
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
