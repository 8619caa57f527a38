"""`python -m bench --quick` runs end to end and prints every figure with a number.

Performance targets are not asserted here (the machine running the suite is shared
and noisy); docs/benchmarks.md has the measured figures. The benchmark starts its
own Kafka broker and PostgreSQL on free loopback ports (unless KAFKA_BOOTSTRAP_SERVERS
/ DATABASE_URL are set), so it never writes into the brokers other tests use.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from bench.report import LABELS

ROOT = Path(__file__).resolve().parents[2]
NUMBER = re.compile(r"-?[\d,]+(\.\d+)?(e[-+]?\d+)?")


def _free_port(pair: bool = False) -> int:
    """A free loopback port; with `pair`, port + 1 is free too (the Kafka controller)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if not pair:
                return port
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def test_quick_benchmark_prints_every_figure():
    command = [sys.executable, "-m", "bench", "--quick", "--kafka-port", str(_free_port(pair=True)),
               "--pg-port", str(_free_port()), "--timeout", "400"]
    result = subprocess.run(command, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=470)
    report = f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    assert result.returncode == 0, report
    assert "NOTE" not in result.stdout, report  # no phase fell short (timeouts, undelivered mails, ...)
    lines = result.stdout.splitlines()
    for label in LABELS:
        row = next((line for line in lines if line.startswith(f"| {label} ")), None)
        assert row is not None, f"row {label!r} missing\n{report}"
        measured = row.split("|")[2].strip()
        assert NUMBER.fullmatch(measured), f"row {label!r} has no number: {measured!r}\n{report}"
