"""The outbox relay: publishes what services wrote to their outbox, in order,
then deletes it. A crash between the database commit and the publish loses
nothing: the rows are still there and are sent when the relay runs again (the
idempotent producer and the consumers' inbox absorb a repeat)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.consumer import RetryPolicy, is_transient
from shared.db import DeliveryTables, advisory_key, try_advisory_xact_lock

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(self, *, engine: AsyncEngine, tables: DeliveryTables, producer: AIOKafkaProducer,
                 batch_size: int = 500, idle_poll_seconds: float = 1.0, retry: RetryPolicy = RetryPolicy()) -> None:
        self.engine = engine
        self.outbox = tables.outbox
        # One lock per service (its outbox table is `<service>_outbox`).
        self.lock_key = advisory_key(tables.outbox.name.removesuffix("_outbox"), "relay")
        self.producer = producer
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
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
        while not self._stopping:
            try:
                sent = await self.publish_pending()
                failures = 0
            except Exception as error:
                if not (is_transient(error) or isinstance(error, KafkaError)):
                    raise
                failures += 1
                delay = self.retry.backoff(failures)
                log.warning("outbox relay: %s; retrying in %.1fs", type(error).__name__, delay)
                await asyncio.sleep(delay)
                continue
            if sent < self.batch_size and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll_seconds)
                except asyncio.TimeoutError:
                    pass

    async def publish_pending(self) -> int:
        """Publish one batch of outbox rows; returns how many were sent (0 also when
        another instance's relay is publishing this service's outbox right now)."""
        async with self.engine.begin() as connection:
            # One relay per service publishes at a time (PostgreSQL advisory lock, held
            # until this transaction ends). Two relays each taking other rows (SKIP
            # LOCKED) could send one volunteer's later event before an earlier one;
            # a single publisher sends in id order. The other instances' relays stand
            # by and take over at their next poll (≤ 1 s) when this one stops or dies.
            if not await try_advisory_xact_lock(connection, self.lock_key):
                log.debug("outbox relay: another instance is publishing %s", self.outbox.name)
                return 0
            query = select(self.outbox).order_by(self.outbox.c.id).limit(self.batch_size)
            if connection.dialect.name == "postgresql":
                # Rows an erasure is deleting right now are left to it.
                query = query.with_for_update(skip_locked=True)
            rows = (await connection.execute(query)).all()
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
            await connection.execute(delete(self.outbox).where(self.outbox.c.id.in_([row.id for row in rows])))
        self.published += len(rows)
        return len(rows)
