"""Operations: each service's Prometheus metrics, and JSON log lines.

Metrics are counts, durations and offsets only: never an id, a name or an
address (labels are the service, CloudEvents types, topics and partitions, all
from the service's own contract). Every ServiceRuntime has its own registry
(`run all` runs five in one process), and every metric carries a `service` label.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from shared import tracing

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A dead-lettered record that was no valid event of a type the service accepts.
INVALID_TYPE = "invalid"


class ServiceMetrics:
    """The metrics of one service, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        by_type = ["service", "type"]
        options = {"registry": self.registry}
        self._consumed = Counter("dankjewel_events_consumed", "Valid events read from Kafka, by CloudEvents type",
                                 by_type, **options)
        self._applied = Counter("dankjewel_events_applied", "Events applied (their transaction committed)",
                                by_type, **options)
        self._duplicates = Counter("dankjewel_events_duplicate", "Events skipped: seen before (inbox)",
                                   by_type, **options)
        self._dead_lettered = Counter("dankjewel_events_dead_lettered",
                                      f"Records sent to <topic>.dlq, by topic and type ({INVALID_TYPE}: "
                                      "not a valid event of an accepted type)", ["service", "topic", "type"],
                                      **options)
        self._batch_seconds = Histogram("dankjewel_consumer_batch_seconds",
                                        "Time to apply one fetched batch and commit its offsets", ["service"],
                                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                                        **options)
        self._phase_seconds = Counter("dankjewel_consumer_phase_seconds",
                                      "Time spent applying batches, by phase: parse, inbox (dedup lookup), "
                                      "handle (the service's work; a service may split it, e.g. load, rules), "
                                      "write (staged rows, outbox, inbox), commit", ["service", "phase"], **options)
        self._mails = Counter("dankjewel_mails", "Mails by outcome: sent (the SMTP server accepted it), retried "
                              "(4xx or no connection: tried again later), failed (5xx, for good), skipped "
                              "(no consent, unsubscribed, erased, no address)", ["service", "outcome"], **options)
        self._smtp_sessions = Counter("dankjewel_smtp_sessions", "SMTP connections opened by the mail sender",
                                      ["service"], **options)
        self._sweep_seconds = Histogram("dankjewel_sweep_seconds", "Duration of the time-based rules' sweeps",
                                        ["service"], buckets=(0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
                                        **options)
        self._sweeps_skipped = Counter("dankjewel_sweeps_skipped",
                                       "Scheduled sweeps left out: another instance was sweeping", ["service"],
                                       **options)
        self._outbox_rows = Gauge("dankjewel_outbox_backlog_rows", "Events in the outbox not yet published",
                                  ["service"], **options)
        self._outbox_age = Gauge("dankjewel_outbox_oldest_age_seconds",
                                 "Age of the oldest unpublished outbox event (0 when empty)", ["service"], **options)
        self._lag = Gauge("dankjewel_consumer_lag", "Records on a partition not yet fetched by this instance "
                          "(high-water mark minus position)", ["service", "topic", "partition"], **options)

    # Fed by the consumer loop and the runtime.
    def consumed(self, event_type: str) -> None:
        self._consumed.labels(self.service, event_type).inc()

    def applied(self, event_type: str) -> None:
        self._applied.labels(self.service, event_type).inc()

    def duplicate(self, event_type: str) -> None:
        self._duplicates.labels(self.service, event_type).inc()

    def dead_lettered(self, topic: str, event_type: str | None) -> None:
        self._dead_lettered.labels(self.service, topic, event_type or INVALID_TYPE).inc()

    def batch_took(self, seconds: float) -> None:
        self._batch_seconds.labels(self.service).observe(seconds)

    def phases_took(self, seconds: dict[str, float]) -> None:
        for phase, spent in seconds.items():
            self._phase_seconds.labels(self.service, phase).inc(spent)

    def mails(self, outcome: str, count: int = 1) -> None:
        if count:
            self._mails.labels(self.service, outcome).inc(count)

    def smtp_session_opened(self) -> None:
        self._smtp_sessions.labels(self.service).inc()

    def sweep_took(self, seconds: float) -> None:
        self._sweep_seconds.labels(self.service).observe(seconds)

    def sweep_skipped(self) -> None:
        self._sweeps_skipped.labels(self.service).inc()

    # Computed at scrape time.
    async def refresh(self, engine: AsyncEngine | None, outbox: Table, consumer: AIOKafkaConsumer | None,
                      now: datetime | None = None) -> None:
        """Set the gauges: outbox backlog (one query) and, when consuming, the lag per
        assigned partition. A database that does not answer leaves the outbox gauges
        as they were (`/ready` says so)."""
        if engine is not None:
            try:
                async with engine.connect() as connection:
                    rows, oldest = (await asyncio.wait_for(connection.execute(
                        select(func.count(), func.min(outbox.c.created_at))), timeout=5)).one()
                if oldest is not None and oldest.tzinfo is None:  # SQLite forgets the zone: stored as UTC
                    oldest = oldest.replace(tzinfo=timezone.utc)
                age = ((now or datetime.now(timezone.utc)) - oldest).total_seconds() if oldest else 0.0
                self._outbox_rows.labels(self.service).set(rows)
                self._outbox_age.labels(self.service).set(max(0.0, age))
            except Exception as error:
                log.debug("metrics of %s: outbox not measured (%s)", self.service, type(error).__name__)
        self._lag.clear()
        if consumer is not None:
            for tp, lag in (await consumer_lag(consumer)).items():
                self._lag.labels(self.service, tp.topic, str(tp.partition)).set(lag)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def mail_count(self, outcome: str) -> int:
        """Mails of one outcome so far (sent, retried, failed, skipped): what the scrape
        says, for the benchmark and tests."""
        return int(self.registry.get_sample_value("dankjewel_mails_total",
                                                  {"service": self.service, "outcome": outcome}) or 0)

    def smtp_sessions(self) -> int:
        return int(self.registry.get_sample_value("dankjewel_smtp_sessions_total", {"service": self.service}) or 0)


async def consumer_lag(consumer: AIOKafkaConsumer) -> dict:
    """{partition: high-water mark − position} for the assigned partitions whose
    high-water mark is known (it comes with fetch responses: no extra request)."""
    lag = {}
    for tp in list(consumer.assignment()):
        try:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await asyncio.wait_for(consumer.position(tp), timeout=0.5)
        except Exception:  # revoked meanwhile, or no position yet: not measured this time
            continue
        lag[tp] = max(0, highwater - position)
    return lag


# --- logs -------------------------------------------------------------------------

# The service a task works for: set while a ServiceRuntime starts, so its loops
# (consumer, relay, sweeps, background) carry it into their log lines.
current_service: contextvars.ContextVar[str | None] = contextvars.ContextVar("dankjewel_service", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a log line is about (topic, partition, offset, event id and type), set by the
# consumer around the work on a record; never personal data.
log_context: contextvars.ContextVar[dict] = contextvars.ContextVar("dankjewel_log_context", default={})


@contextmanager
def logged(**fields) -> Iterator[None]:
    """Add `fields` to the JSON log lines written inside."""
    token = log_context.set({**log_context.get(), **fields})
    try:
        yield
    finally:
        log_context.reset(token)



class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, RFC 3339), level, logger, message,
    `service` when known (an `extra={"service": …}` or the task's service), the
    record being worked on (topic, partition, offset, event_id, event_type) and the
    W3C `trace_id` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        service = getattr(record, "service", None) or current_service.get()
        if service:
            entry["service"] = str(service)
        entry.update(log_context.get())
        if (trace := tracing.current.get()) is not None:
            entry["trace_id"] = trace.trace_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_formatter(log_format: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT (`text` or `json`)."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
