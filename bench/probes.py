"""Measuring helpers: RSS sampling from /proc, percentiles, an SMTP server that
time-stamps every hand-off."""

from __future__ import annotations

import math
import os
import resource
import socket
import subprocess
import sys
import threading
from pathlib import Path

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
    """An SMTP server on 127.0.0.1 that accepts everything and records, per
    recipient, the moment (time.monotonic) the message was handed off (DATA
    received). It runs in its own process (bench/smtp_sink.py)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: dict[str, float] = {}
        self.messages = 0
        self.process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 20) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(self.port)],
                                        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
        ready = threading.Event()
        self._reader = threading.Thread(target=self._read, args=(ready,), name="bench-smtp", daemon=True)
        self._reader.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("bench SMTP server did not start")

    def _read(self, ready: threading.Event) -> None:
        for line in self.process.stdout:
            if line.strip() == "ready":
                ready.set()
                continue
            moment, *recipients = line.split()
            for recipient in recipients:
                self.received.setdefault(recipient, float(moment))
            self.messages += 1

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None
