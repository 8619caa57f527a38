"""The outbox relay: publishes what services wrote to their outbox, in order,
then deletes it. A crash between the database commit and the publish loses
nothing: the rows are still there and are sent when the relay runs again (the
idempotent producer and the consumers' inbox absorb a repeat)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.consumer import RetryPolicy, is_transient
from shared.db import DeliveryTables, advisory_key, try_advisory_xact_lock

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, *, engine: AsyncEngine, tables: DeliveryTables, producer: AIOKafkaProducer,
                 batch_size: int = 500, idle_poll_seconds: float = 1.0, linger_seconds: float = 0.05,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self.engine = engine
        self.outbox = tables.outbox
        # One lock per service (its outbox table is `<service>_outbox`).
        self.lock_key = advisory_key(tables.outbox.name.removesuffix("_outbox"), "relay")
        self.producer = producer
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        # After a wake-up, how long rows of further commits may gather before one batch
        # takes them all: at 100 events/s every commit woke a transaction of its own.
        self.linger_seconds = linger_seconds
        self.retry = retry
        self._wake = asyncio.Event()
        self._stopping = False
        self.published = 0

    def wake(self) -> None:
        self._wake.set()

    def stop_after_current_batch(self) -> None:
        """A graceful stop: finish the batch in flight (publish and delete), then return."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        # Kept while there is work (a check-out from the pool costs a ping: three round
        # trips), given back when the outbox is empty.
        connection: AsyncConnection | None = None
        try:
            while not self._stopping:
                try:
                    if connection is None:
                        connection = await self.engine.connect()
                    sent = await self.publish_pending(connection)
                    failures = 0
                except Exception as error:
                    connection = await _close(connection)  # a failed connection is not used again
                    if not (is_transient(error) or isinstance(error, KafkaError)):
                        raise
                    failures += 1
                    delay = self.retry.backoff(failures)
                    log.warning("outbox relay: %s; retrying in %.1fs", type(error).__name__, delay)
                    await asyncio.sleep(delay)
                    continue
                if not sent:
                    connection = await _close(connection)
                if sent < self.batch_size and not self._stopping:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.idle_poll_seconds)
                    except asyncio.TimeoutError:
                        continue
                    if not self._stopping:
                        await asyncio.sleep(self.linger_seconds)
        finally:
            await _close(connection)

    async def publish_pending(self, connection: AsyncConnection | None = None) -> int:
        """Publish one batch of outbox rows; returns how many were sent (0 also when
        another instance's relay is publishing this service's outbox right now).
        Over `connection` if given (not in a transaction), else over one from the pool."""
        if connection is None:
            async with self.engine.connect() as connection:
                return await self.publish_pending(connection)
        async with connection.begin():
            # One relay per service publishes at a time (PostgreSQL advisory lock, held
            # until this transaction ends). Two relays each taking other rows (SKIP
            # LOCKED) could send one volunteer's later event before an earlier one;
            # a single publisher sends in id order. The other instances' relays stand
            # by and take over at their next poll (≤ 1 s) when this one stops or dies.
            if not await try_advisory_xact_lock(connection, self.lock_key):
                log.debug("outbox relay: another instance is publishing %s", self.outbox.name)
                return 0
            batch = select(self.outbox.c.id).order_by(self.outbox.c.id).limit(self.batch_size)
            if connection.dialect.name == "postgresql":
                # Rows an erasure is deleting right now are left to it.
                batch = batch.with_for_update(skip_locked=True)
            # Taken and deleted in one statement; if publishing fails the transaction
            # rolls back and the rows are there for the next try.
            rows = sorted((await connection.execute(
                delete(self.outbox).where(self.outbox.c.id.in_(batch.scalar_subquery()))
                .returning(*self.outbox.c))).all(), key=lambda row: row.id)
            if not rows:
                return 0
            deliveries = [
                await self.producer.send(
                    row.topic, value=row.value, key=row.key,
                    headers=[(name, value.encode()) for name, value in row.headers],
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
        self.published += len(rows)
        return len(rows)


async def _close(connection: AsyncConnection | None) -> None:
    """Give a connection back to the pool (a broken one is dropped); returns None."""
    if connection is not None:
        with contextlib.suppress(Exception):
            await connection.close()
    return None
