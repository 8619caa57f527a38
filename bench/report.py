"""The table the benchmark prints: measured figure, target, pass/miss and by how much."""

from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass

# Every row label, in order; tests check that each is printed with a number.
LABELS = (
    "1 raw aiokafka consume (getmany, 1 partition)",
    "2 pipeline throughput (1 partition)",
    "2 pipeline / raw consume",
    "2 per batch: parse",
    "2 per batch: inbox",
    "2 per batch: handle",
    "2 per batch: write",
    "2 per batch: commit",
    "3 publish->SMTP latency p50",
    "3 publish->SMTP latency p99",
    "3 publish->SMTP latency p99.9",
    "4 anniversary sweep time",
    "4 sweep peak memory (tracemalloc)",
    "4 sweep RSS delta",
    "5 peak RSS of service process under load",
    "5 offset commits per 1,000 events",
    "5 offset commits per batch",
    "5 mails per SMTP session",
    "6 console Today page p50",
    "6 console Today page p95",
    "7 peer throughput (faststream + ORM, 1 partition)",
    "7 dankjewel / peer throughput",
    "7 peer publish->SMTP latency p50",
    "7 peer publish->SMTP latency p99",
    "7 dankjewel / peer p99 latency",
    "8 pipeline throughput, 1 process (4 partitions)",
    "8 pipeline throughput, 2 processes (4 partitions)",
    "8 2 processes / 1 process",
    "9 import speed (CSV -> Kafka)",
)


@dataclass
class Row:
    label: str
    value: float
    unit: str
    at_least: float | None = None
    at_most: float | None = None
    note: str = ""

    def target(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.at_least is not None:
            return f">= {self.at_least:g}{unit}"
        if self.at_most is not None:
            return f"<= {self.at_most:g}{unit}"
        return "-"

    def verdict(self) -> str:
        if self.at_least is None and self.at_most is None:
            return ""
        if self.value is None or math.isnan(self.value):
            return "NOT MEASURED"
        target = self.at_least if self.at_least is not None else self.at_most
        gap = self.value - target if self.at_least is not None else target - self.value
        pct = abs(gap) / target * 100 if target else math.inf
        if gap >= 0:
            return f"PASS ({_fmt(abs(gap))} / {pct:.0f}% to spare)"
        return f"MISS by {_fmt(abs(gap))} ({pct:.0f}%)"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo") as info:
            kb = int(next(line.split()[1] for line in info if line.startswith("MemTotal")))
            memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{os.cpu_count()} CPUs ({cpu}), {memory} RAM, Python {platform.python_version()}"


def render_table(rows: list[Row], options, elapsed: float, servers, notes: list[str]) -> str:  # noqa: ANN001
    header = ("figure", "measured", "unit", "target", "verdict")
    body = [(r.label, _fmt(r.value), r.unit, r.target(), r.verdict()) for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells) -> str:  # noqa: ANN001
        return "| " + " | ".join(c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    out = [
        "",
        f"dankjewel benchmark{' (--quick)' if options.quick else ''}: {options.events:,} events, "
        f"{options.volunteers:,} volunteers, latency {options.latency_seconds:g} s at {options.rate:g}/s; "
        f"{elapsed:.0f} s in all; mail sender with {options.mail_connections} SMTP connections",
        f"machine: {machine()}",
        f"kafka: {servers.kafka_bootstrap} ({'own broker, deploy/kafka/kafka.sh' if servers.own_kafka else 'configured'}); "
        f"postgresql: {'own server, deploy/postgres/postgres.sh' if servers.own_pg else 'configured'}",
        "",
        line(header), rule, *(line(cells) for cells in body), "",
    ]
    out += [f"  {r.label}: {r.note}" for r in rows if r.note]
    for note in notes:
        out.append(f"  NOTE {note}")
    return "\n".join(out)
