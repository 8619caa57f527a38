"""Phase 7's peer: the first-shift pipeline as a team would write it by following
faststream's and SQLAlchemy's documentation, measured in the same run as dankjewel.

The pipeline (`create_peer`): a faststream `KafkaBroker` subscriber with the default
settings, a pydantic model for the structured-mode CloudEvent, per message one ORM
`AsyncSession` transaction (dedup by (source, id), the volunteer's shift count, a
ledger row for the first-shift milestone, an outbox row), then the thank-you mail
sent with `aiosmtplib.send` from the handler (one SMTP connection per mail).

Delivery, as faststream 0.6/0.7 does it by default: a subscriber without `ack_policy`
gets `AckPolicy.ACK_FIRST`, i.e. aiokafka's `enable_auto_commit=True` (every 5 s the
consumer's position is committed, whether or not the handler finished): at most
once. A handler that raises is logged and its message skipped; nothing retries.
Checked in faststream 0.7.8's source (`KafkaSubscriberConfig.ack_policy`) and its
"Consuming Acknowledgements" page. The consequences are in docs/benchmarks.md.

`python -m bench.peer BOOTSTRAP RATE ENDED_AT` is bench/publisher.py's load sent to
the peer's topic (phase 7's latency)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import DateTime, ForeignKey, func, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TOPIC = "peer.shifts.completed"
SENDER = "dankjewel <dankjewel@example.org>"

# --------------------------------------------------------------------------- the peer, as documented


class ShiftCompleted(BaseModel):
    shift_id: str
    volunteer_id: str
    started_at: AwareDatetime
    ended_at: AwareDatetime
    task: str | None = None


class ShiftCompletedEvent(BaseModel):
    """A structured-mode CloudEvent (the whole event as one JSON object)."""

    specversion: Literal["1.0"]
    id: str
    source: str
    type: Literal["dankjewel.shift.completed.v1"]
    time: AwareDatetime | None = None
    datacontenttype: str | None = None
    data: ShiftCompleted


class Base(DeclarativeBase):
    pass


class ProcessedEvent(Base):
    __tablename__ = "peer_processed_events"

    source: Mapped[str] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Volunteer(Base):
    __tablename__ = "peer_volunteers"

    volunteer_id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str | None]
    email: Mapped[str | None]
    language: Mapped[str] = mapped_column(default="nl")
    shifts_completed: Mapped[int] = mapped_column(default=0)


class LedgerEntry(Base):
    __tablename__ = "peer_ledger"

    volunteer_id: Mapped[str] = mapped_column(ForeignKey("peer_volunteers.volunteer_id"), primary_key=True)
    milestone: Mapped[str] = mapped_column(primary_key=True)
    reached_on: Mapped[date]


class OutboxMessage(Base):
    __tablename__ = "peer_outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    topic: Mapped[str]
    key: Mapped[str]
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A relay would look for unpublished rows by this (none runs here, see docs/benchmarks.md).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


SUBJECTS = {"nl": "Dank je wel voor je eerste dienst!", "en": "Thank you for your first shift!"}
BODIES = {"nl": "Beste {name},\n\nDank je wel voor je eerste dienst. Fijn dat je erbij bent!\n",
          "en": "Dear {name},\n\nThank you for your first shift. We are glad to have you with us!\n"}


def thank_you(volunteer: Volunteer) -> EmailMessage:
    language = volunteer.language if volunteer.language in SUBJECTS else "en"
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = volunteer.email
    message["Subject"] = SUBJECTS[language]
    message.set_content(BODIES[language].format(name=volunteer.name or volunteer.volunteer_id))
    return message


@dataclass
class Stats:
    """Counted by the handler for the benchmark (a few perf_counter calls per event)."""

    applied: int = 0
    duplicates: int = 0
    failed: int = 0
    mailed: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    db_seconds: float = 0.0
    smtp_seconds: float = 0.0


@dataclass
class Peer:
    broker: KafkaBroker
    engine: object
    stats: Stats

    async def start(self) -> None:
        await self.broker.start()

    async def stop(self) -> None:
        await self.broker.stop()
        await self.engine.dispose()


def create_peer(bootstrap: str, database_url: str, smtp_host: str, smtp_port: int, group_id: str) -> Peer:
    # One engine (default pool of 5) for the process; expire_on_commit=False so the
    # volunteer can be read after the commit without another round trip.
    engine = create_async_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    # faststream's own logger prints to stdout, two INFO lines per message: the
    # benchmark's logging instead (WARNING and up, to stderr), so the table stays clean.
    broker = KafkaBroker(bootstrap, logger=logging.getLogger("bench.peer"))
    stats = Stats()

    # faststream parses JSON only under content-type application/json; a structured
    # CloudEvent says application/cloudevents+json, so a decoder as its docs show.
    def cloudevent_decoder(message: KafkaMessage) -> dict:
        return json.loads(message.body)

    # The subscriber's defaults: AckPolicy.ACK_FIRST (auto-commit), auto_offset_reset="latest".
    @broker.subscriber(TOPIC, group_id=group_id, decoder=cloudevent_decoder)
    async def on_shift_completed(event: ShiftCompletedEvent) -> None:
        started = time.perf_counter()
        stats.first_start = stats.first_start or started
        try:
            async with sessions() as session, session.begin():
                if await session.get(ProcessedEvent, (event.source, event.id)) is not None:
                    stats.duplicates += 1
                    return
                session.add(ProcessedEvent(source=event.source, id=event.id))
                volunteer = await session.get(Volunteer, event.data.volunteer_id)
                if volunteer is None:  # not registered: count the shift, no address to thank
                    volunteer = Volunteer(volunteer_id=event.data.volunteer_id, shifts_completed=0)
                    session.add(volunteer)
                volunteer.shifts_completed += 1
                first_shift = volunteer.shifts_completed == 1
                if first_shift:
                    reached_on = event.data.ended_at.date()
                    session.add(LedgerEntry(volunteer_id=volunteer.volunteer_id, milestone="first-shift",
                                            reached_on=reached_on))
                    session.add(OutboxMessage(topic="milestones.reached", key=volunteer.volunteer_id, payload={
                        "specversion": "1.0", "id": str(uuid.uuid4()), "source": "urn:peer:appreciation",
                        "type": "dankjewel.milestone.reached.v1", "time": datetime.now(timezone.utc).isoformat(),
                        "data": {"volunteer_id": volunteer.volunteer_id, "milestone": "first-shift",
                                 "reached_on": reached_on.isoformat(), "celebrated": volunteer.email is not None}}))
            committed = time.perf_counter()
            stats.db_seconds += committed - started
            if first_shift and volunteer.email:
                await aiosmtplib.send(thank_you(volunteer), hostname=smtp_host, port=smtp_port)
                stats.mailed += 1
                stats.smtp_seconds += time.perf_counter() - committed
            stats.applied += 1
        except Exception:
            stats.failed += 1
            raise  # faststream logs it; with ACK_FIRST the message is not delivered again
        finally:
            stats.last_end = time.perf_counter()

    return Peer(broker, engine, stats)


# --------------------------------------------------------------------------- benchmark plumbing


async def reset_tables(database_url: str, volunteers: list[tuple[str, str, str]]) -> None:
    """Drop and create the peer_ tables (metadata.create_all), then register
    `volunteers` ((id, name, email) rows) as phase 2/3's volunteers are registered."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.drop_all)
            await connection.run_sync(Base.metadata.create_all)
            for i in range(0, len(volunteers), 5000):
                await connection.execute(insert(Volunteer), [
                    {"volunteer_id": v, "name": name, "email": email, "language": "nl", "shifts_completed": 0}
                    for v, name, email in volunteers[i:i + 5000]])
    finally:
        await engine.dispose()


async def prepare_topic(settings, group_id: str, partitions: int) -> None:  # noqa: ANN001
    """The peer's topic, and its consumer group's offsets committed at the topic's end:
    faststream's default `auto_offset_reset="latest"` would skip a backlog produced
    before the group's first start, while a deployed consumer has committed offsets."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from shared.kafka import ensure_topics

    await ensure_topics(settings, [TOPIC], partitions=partitions)
    producer = AIOKafkaProducer(**settings.kafka_client_options())
    await producer.start()
    try:
        parts = [TopicPartition(TOPIC, p) for p in sorted(await producer.partitions_for(TOPIC))]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.commit(dict(await consumer.end_offsets(parts)))
    finally:
        await consumer.stop()


def _publish_to_peer_topic(bootstrap: str, rate: float, ended_at: datetime, volunteer_ids: list[str]) -> None:
    """bench/publisher.py unchanged (same pacing, records and time stamps), its sends
    redirected to TOPIC: that publisher names `shifts.completed`, which the peer must not share."""
    import asyncio

    import aiokafka

    from bench import publisher

    class ToPeerTopic(aiokafka.AIOKafkaProducer):
        async def send(self, topic, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
            return await super().send(TOPIC, *args, **kwargs)

    aiokafka.AIOKafkaProducer = ToPeerTopic  # publisher.publish imports it at call time
    asyncio.run(publisher.publish(bootstrap, rate, ended_at, volunteer_ids))


if __name__ == "__main__":
    import sys

    _publish_to_peer_topic(sys.argv[1], float(sys.argv[2]), datetime.fromisoformat(sys.argv[3]),
                           sys.stdin.read().split())
