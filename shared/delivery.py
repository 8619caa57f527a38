"""Inbox and outbox: the state change, the record that an event was processed and
the events to publish are written in one database transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import EventData, EventType
from shared.db import DeliveryTables
from shared.envelope import Envelope, new_event, to_record
from shared.settings import Settings


@dataclass
class Unit:
    """One transaction of one service: what a handler gets to work with."""

    session: AsyncSession
    tables: DeliveryTables
    source: str
    settings: Settings
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    emitted: int = 0
    wakes: set[str] = field(default_factory=set)  # loops to wake after commit (e.g. "mail")

    def wake(self, loop: str) -> None:
        """Ask for a background loop to look at its work right after this transaction commits."""
        self.wakes.add(loop)

    async def emit(self, event_type: EventType, data: EventData, *, event_id: str | None = None) -> Envelope:
        """Queue an event in the outbox; the relay publishes it after commit."""
        envelope = new_event(event_type, data, self.source, time=self.now, event_id=event_id)
        key, value, headers = to_record(envelope)
        await self.session.execute(
            insert(self.tables.outbox).values(
                topic=event_type.topic,
                key=key,
                value=value,
                headers=[[name, header.decode()] for name, header in headers],
                created_at=self.now,
            )
        )
        self.emitted += 1
        return envelope


async def already_processed(session: AsyncSession, tables: DeliveryTables,
                            events: list[Envelope]) -> set[tuple[str, str]]:
    """The dedup keys among `events` that this service has processed before."""
    keys = list({event.dedup_key for event in events})
    found: set[tuple[str, str]] = set()
    inbox = tables.inbox
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        rows = await session.execute(
            select(inbox.c.source, inbox.c.event_id).where(tuple_(inbox.c.source, inbox.c.event_id).in_(chunk))
        )
        found.update((row.source, row.event_id) for row in rows)
    return found


async def record_processed(session: AsyncSession, tables: DeliveryTables, event: Envelope, now: datetime) -> None:
    await session.execute(
        insert(tables.inbox).values(source=event.source, event_id=event.id, event_type=event.type, processed_at=now)
    )
