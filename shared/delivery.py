"""Inbox and outbox: the state change, the record that an event was processed and
the events to publish are written in one database transaction.

A Unit collects its inbox and outbox rows and writes them in one multi-row INSERT
each when it is flushed, just before the commit: a batch of 500 events costs two
statements for them, not a thousand."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared import tracing
from shared.contracts import EventData, EventType
from shared.db import DeliveryTables, insert_rows
from shared.envelope import Envelope, new_event, to_record
from shared.settings import Settings


@dataclass(frozen=True)
class Wakeable:
    """A service's background loop that a transaction can wake once it commits (the
    service declares it; the loop waits on `ServiceRuntime.waker(it)`)."""

    name: str


def wake_channel(service: str) -> str:
    """The PostgreSQL NOTIFY channel a service's background loops listen on; the
    payload names the loop (e.g. "mail")."""
    return f"dankjewel_wake_{service}"


def outbox_row(event_type: EventType, data: EventData, source: str, now: datetime, *,
               event_id: str | None = None) -> tuple[Envelope, dict]:
    """An event and its outbox row (`Unit.emit` stages these; a caller that writes its
    state and its events in one statement of its own takes the row directly)."""
    envelope = new_event(event_type, data, source, time=now, event_id=event_id,
                         traceparent=tracing.traceparent_for_new_event())
    key, value, headers = to_record(envelope)
    return envelope, dict(topic=event_type.topic, key=key, value=value,
                          headers=[[name, header.decode()] for name, header in headers], created_at=now)


@dataclass
class Unit:
    """One transaction of one service: what a handler gets to work with."""

    session: AsyncSession
    tables: DeliveryTables
    source: str
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    emitted: int = 0
    wakes: set[Wakeable] = field(default_factory=set)  # loops to wake after commit
    # Seconds spent per phase of this transaction (the consumer adds parse, inbox,
    # handle, write, commit; a service may split its handling with `timed`).
    timings: dict[str, float] = field(default_factory=dict)
    _notified: set[Wakeable] = field(default_factory=set)  # wakes already sent as NOTIFY
    _outbox_rows: list[dict] = field(default_factory=list)
    _inbox_rows: list[dict] = field(default_factory=list)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Count the time inside as `phase` (e.g. "load", "rules") for the benchmark's
        breakdown and the dankjewel_consumer_phase_seconds metric."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = self.timings.get(phase, 0.0) + time.perf_counter() - started

    def wake(self, loop: Wakeable) -> None:
        """Ask for a background loop to look at its work right after this transaction commits."""
        self.wakes.add(loop)

    async def emit(self, event_type: EventType, data: EventData, *, event_id: str | None = None) -> Envelope:
        """Queue an event in the outbox (written on flush); the relay publishes it after commit."""
        envelope, row = outbox_row(event_type, data, self.source, self.now, event_id=event_id)
        self._outbox_rows.append(row)
        self.emitted += 1
        return envelope

    async def forget_pending_events(self, volunteer_id: str) -> None:
        """Erasure: drop the person's events not yet published (staged here or waiting
        in the outbox), so nothing about them reaches Kafka after they asked to be
        forgotten. Events are keyed by volunteer id. Call it before emitting the
        erasure's own events."""
        key = volunteer_id.encode()
        self._outbox_rows[:] = [row for row in self._outbox_rows if row["key"] != key]
        await self.session.execute(delete(self.tables.outbox).where(self.tables.outbox.c.key == key))

    def record_processed(self, event: Envelope) -> None:
        self._inbox_rows.append(dict(source=event.source, event_id=event.id, event_type=event.type,
                                     processed_at=self.now))

    async def flush(self) -> None:
        """Write the staged outbox and inbox rows (a service writes its own state itself,
        before). Called inside the transaction, before it commits; may be called more than once."""
        # Outbox ids follow the order of emit, which the relay publishes in.
        for table, rows in ((self.tables.outbox, self._outbox_rows), (self.tables.inbox, self._inbox_rows)):
            await insert_rows(self.session, table, rows)
            rows.clear()
        # Loops in other processes (`dankjewel background …`, another instance) hear of
        # the work at commit through PostgreSQL's NOTIFY (delivered only if it commits);
        # this process's loops are woken directly after the commit (ServiceRuntime.after_commit).
        unannounced = self.wakes - self._notified
        if unannounced and getattr(self.session.bind, "dialect", None) is not None \
                and self.session.bind.dialect.name == "postgresql":
            for loop in sorted(unannounced, key=lambda loop: loop.name):
                await self.session.execute(text("SELECT pg_notify(:channel, :loop)"),
                                           {"channel": wake_channel(self.source), "loop": loop.name})
            self._notified |= unannounced


async def already_processed(session: AsyncSession, tables: DeliveryTables,
                            events: list[Envelope]) -> set[tuple[str, str]]:
    """The dedup keys among `events` that this service has processed before."""
    # One `source = … AND event_id IN (…)` per source, not a row-value IN list:
    # PostgreSQL reads that one from the primary key; the row-value list of 500
    # pairs it turns into ORs it may check against every inbox row.
    by_source: dict[str, set[str]] = {}
    for event in events:
        by_source.setdefault(event.source, set()).add(event.id)
    found: set[tuple[str, str]] = set()
    inbox = tables.inbox
    for source, ids in by_source.items():
        ids = sorted(ids)
        for start in range(0, len(ids), 1000):
            rows = await session.scalars(select(inbox.c.event_id).where(
                inbox.c.source == source, inbox.c.event_id.in_(ids[start:start + 1000])))
            found.update((source, event_id) for event_id in rows)
    return found
