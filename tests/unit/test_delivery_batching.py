"""Fewer transactions at low rates: the consumer lingers briefly over a small batch,
the relay takes and deletes its rows in one statement, and the mail sender records
sent mails with their events in one write (its SQLite path here; PostgreSQL's one
statement in tests/integration/test_appreciation.py)."""

import asyncio
from datetime import datetime, timezone
from types import SimpleNamespace

from aiokafka import TopicPartition
from sqlalchemy import MetaData, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.appreciation import store
from services.appreciation.tables import delivery, mails, metadata, volunteers
from shared.consumer import LINGER_BELOW, EventConsumer
from shared.contracts import APPRECIATION_SENT_V2, AppreciationSentV2
from shared.db import delivery_tables
from shared.delivery import outbox_row
from shared.relay import OutboxRelay

TP = TopicPartition("shifts.completed", 0)
NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def records(start: int, count: int) -> list:
    return [SimpleNamespace(offset=offset) for offset in range(start, start + count)]


class Consumer:
    """getmany hands out the queued answers, then nothing."""

    def __init__(self, *answers: list) -> None:
        self.answers = list(answers)
        self.waits: list[int] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        self.waits.append(timeout_ms)
        return {TP: self.answers.pop(0)} if self.answers else {}


async def consume_one_batch(consumer: Consumer) -> list:
    loop = EventConsumer(service="tasks", consumer=consumer, producer=None,
                         engine=create_async_engine("sqlite+aiosqlite://"), settings=None,
                         tables=delivery_tables(MetaData(), "tasks"), subscriptions=[], linger_seconds=0.001)
    batches = []

    async def process_batch(batch: dict) -> None:
        batches.append([record.offset for record in batch[TP]])
        loop.stop_after_current_batch()

    loop.process_batch = process_batch
    await asyncio.wait_for(loop.run(), 5)
    return batches


async def test_a_small_batch_waits_for_what_arrives_meanwhile_and_goes_as_one():
    consumer = Consumer(records(0, 1), records(1, 3))
    assert await consume_one_batch(consumer) == [[0, 1, 2, 3]]
    assert consumer.waits == [500, 0]  # the second look takes what is there, it does not wait again


async def test_a_large_batch_goes_at_once():
    consumer = Consumer(records(0, LINGER_BELOW), records(LINGER_BELOW, 1))
    assert await consume_one_batch(consumer) == [list(range(LINGER_BELOW))]
    assert consumer.waits == [500]


async def sqlite_with(tables: MetaData):  # noqa: ANN201
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        await connection.run_sync(tables.create_all)
    return engine


class Producer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple] = []
        self.fail = fail

    async def send(self, topic: str, value: bytes, key: bytes, headers: list):  # noqa: ANN201
        if self.fail:
            raise RuntimeError("broker away")
        self.sent.append((topic, key, value))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


async def test_the_relay_publishes_in_order_and_deletes_over_a_connection_it_keeps():
    engine = await sqlite_with(metadata)
    async with engine.begin() as connection:
        await connection.execute(insert(delivery.outbox), [
            dict(topic="t", key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[["h", "x"]], created_at=NOW)
            for i in range(5)])
    failing = OutboxRelay(engine=engine, tables=delivery, producer=Producer(fail=True))
    async with engine.connect() as connection:
        try:
            await failing.publish_pending(connection)
        except RuntimeError:
            pass
    producer = Producer()
    relay = OutboxRelay(engine=engine, tables=delivery, producer=producer, batch_size=3)
    async with engine.connect() as connection:  # one connection, two batches
        assert await relay.publish_pending(connection) == 3
        assert await relay.publish_pending(connection) == 2
        assert await relay.publish_pending(connection) == 0
    assert [value for _, _, value in producer.sent] == [f"v{i}".encode() for i in range(5)]  # the failed try lost none
    await engine.dispose()


async def queue_first_shift_mails(connection, volunteer_ids: list[str]) -> None:  # noqa: ANN001
    """Anna, and Bert who was erased, and a first-shift mail due now for each of `volunteer_ids`."""
    await connection.execute(insert(volunteers), [dict(volunteer_id="v-anna", erased_at=None),
                                                  dict(volunteer_id="v-bert", erased_at=NOW)])
    await connection.execute(insert(mails), [
        dict(volunteer_id=v, occasion="first-shift", notification="first-shift-thanks", audience="volunteer",
             context={"task": "soep"}, status="pending", attempts=0, next_attempt_at=NOW, created_at=NOW)
        for v in volunteer_ids])


async def test_sent_mails_are_recorded_with_their_events_and_erased_people_keep_nothing():
    engine = await sqlite_with(metadata)
    async with engine.begin() as connection:
        await queue_first_shift_mails(connection, ["v-anna", "v-bert"])
        claimed = await store.claim_due_mails(connection, NOW, 10, store_lease())
    assert [mail.volunteer_id for mail in claimed] == ["v-anna", "v-bert"]
    sent = [(mail, f"{mail.volunteer_id}@example.org") for mail in claimed]
    events = [outbox_row(APPRECIATION_SENT_V2, AppreciationSentV2(
        volunteer_id=mail.volunteer_id, milestone=mail.occasion, notification=mail.notification,
        audience=mail.audience), "appreciation", NOW, event_id=f"mail:{mail.id}")[1] for mail, _ in sent]
    async with engine.connect() as connection, connection.begin():
        await store.record_sent(connection, sent, events, NOW)
    async with engine.connect() as connection:
        rows = {row.volunteer_id: row for row in await connection.execute(select(mails))}
        outbox = (await connection.execute(select(delivery.outbox).order_by(delivery.outbox.c.id))).all()
    assert {v: (row.status, row.attempts, row.recipient, row.context) for v, row in rows.items()} == {
        "v-anna": ("sent", 1, "v-anna@example.org", {"task": "soep"}),
        "v-bert": ("sent", 1, None, {})}
    assert [row.key for row in outbox] == [b"v-anna", b"v-bert"]
    await engine.dispose()


def store_lease():  # noqa: ANN201
    from services.appreciation.mailer import LEASE

    return LEASE
