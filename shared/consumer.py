"""The consume loop every service uses: Kafka record → CloudEvent → one database
transaction (inbox + state change + outbox) → offsets committed after.

Why not faststream's subscriber: on Kafka its ack policies either commit before
processing (at-most-once, the default) or commit even on error (NACK_ON_ERROR),
it commits once per message, and it has no dead-letter topic. Here:

* records are fetched in batches (`getmany`); each partition's run of records is
  applied in one transaction, and offsets are committed once per batch, after the
  transactions committed: at-least-once, with the inbox making redelivery harmless;
* a batch whose transaction fails is replayed one record at a time, so one bad
  record cannot hold back the others;
* a record no consumer can accept goes to `<topic>.dlq` with its original key,
  value and headers plus the reason, the service and the time; then its offset is
  committed like any other;
* while the database is unreachable the loop retries with capped backoff, with
  its partitions paused and the poll loop alive, so the group keeps them;
* any other handler error is retried a few times, then the record is dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.contracts import EventType, dlq_topic
from shared.db import DeliveryTables
from shared.delivery import Unit, already_processed
from shared.envelope import BadRecord, Envelope, parse_record
from shared import tracing
from shared.metrics import ServiceMetrics, logged
from shared.settings import Settings

log = logging.getLogger(__name__)

Handler = Callable[[Unit, Envelope], Awaitable[None]]
# A service may take one transaction's fresh events at once, in order, instead of a
# handler call per event: it loads what they need and writes its changes in a few
# statements. It handles each event inside `handling(event)`, as the consumer does.
BatchHandler = Callable[[Unit, list[Envelope]], Awaitable[None]]


@contextmanager
def handling(event: Envelope) -> Iterator[None]:
    """The context one event is handled in: what it emits continues its trace (or
    starts one), and log lines name it."""
    with tracing.span(f"handle {event.type}", tracing.continued(event.traceparent),
                      **{"messaging.system": "kafka", "messaging.message.id": event.id}), \
            logged(event_id=event.id, event_type=event.type):
        yield


@dataclass(frozen=True)
class Subscription:
    """A CloudEvent type this service consumes, and what it does with it."""

    event_type: EventType
    handler: Handler | None = None  # None: the service's BatchHandler takes these events


@dataclass(frozen=True)
class RetryPolicy:
    first_backoff: float = 0.5
    max_backoff: float = 30.0
    handler_attempts: int = 3  # for errors that are not the database being away

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.first_backoff * 2 ** max(0, attempt - 1))


MAX_BATCH = 500  # records per getmany, so per transaction at most
# A batch of fewer records than LINGER_BELOW waits LINGER_SECONDS for more (`_linger`).
LINGER_SECONDS = 0.01
LINGER_BELOW = 50

_NETWORK_ERRORS = (OSError, asyncio.TimeoutError, ConnectionError)


def is_transient(error: BaseException) -> bool:
    """True when the database (or network) is away, not when the record is at fault."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, (OperationalError, InterfaceError, *_NETWORK_ERRORS)):
        return True
    # A connection cut while it is being opened reaches us as a plain DBAPIError
    # (asyncpg: "connection was closed in the middle of operation") with the socket
    # error underneath; the outbox relay crashed on one in a fault run.
    return isinstance(error, DBAPIError) and any(
        isinstance(cause, _NETWORK_ERRORS) or type(cause).__name__ == "ConnectionDoesNotExistError"
        for cause in _causes(error))


def _causes(error: BaseException, limit: int = 10) -> list[BaseException]:
    causes, seen = [], error
    while len(causes) < limit and (seen := seen.__cause__ or seen.__context__) is not None:
        causes.append(seen)
    return causes


def _reason(error: BaseException, limit: int = 400) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        engine: AsyncEngine,
        settings: Settings,
        tables: DeliveryTables,
        subscriptions: list[Subscription],
        handle_batch: BatchHandler | None = None,
        on_commit: Callable[[Unit], None] = lambda unit: None,
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        metrics: ServiceMetrics | None = None,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self.service = service
        self.metrics = metrics or ServiceMetrics(service)
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.tables = tables
        self.retry = retry
        self.clock = clock
        self.handle_batch = handle_batch
        self._stopping = False
        self.linger_seconds = linger_seconds
        self.on_commit = on_commit  # wakes the outbox relay and other loops
        self.handlers: dict[str, Handler | None] = {s.event_type.type: s.handler for s in subscriptions}
        if handle_batch is None and None in self.handlers.values():
            raise ValueError(f"{service}: a subscription without a handler needs a batch handler")
        self.accepted: dict[str, dict[str, EventType]] = {}
        for s in subscriptions:
            self.accepted.setdefault(s.event_type.topic, {})[s.event_type.type] = s.event_type
        self.stats = {"processed": 0, "duplicates": 0, "dead_lettered": 0, "commits": 0, "batches": 0}
        self.phase_seconds: dict[str, float] = {}  # summed over every batch (see _count_phases)

    @property
    def topics(self) -> list[str]:
        return sorted(self.accepted)

    async def run(self) -> None:
        """Consume until cancelled, or until asked to stop after the batch at hand."""
        while not self._stopping:
            batch = await self.consumer.getmany(timeout_ms=500, max_records=MAX_BATCH)
            if batch and self.linger_seconds and sum(map(len, batch.values())) < LINGER_BELOW:
                batch = await self._linger(batch)
            if batch and not self._stopping:
                await self.process_batch(batch)

    async def _linger(self, batch: dict[TopicPartition, list]) -> dict[TopicPartition, list]:
        """A few records: wait `linger_seconds` for more to join them. Each transaction
        costs a dozen round trips and a commit whatever its size; at 100 events/s one
        per event took most of the process's CPU (measured)."""
        await asyncio.sleep(self.linger_seconds)
        more = await self.consumer.getmany(timeout_ms=0, max_records=MAX_BATCH - sum(map(len, batch.values())))
        for tp, records in more.items():
            batch[tp] = batch.get(tp, []) + records
        return batch

    def stop_after_current_batch(self) -> None:
        """A graceful stop: no transaction is cut off halfway (a cancelled one could leave
        its connection, and its row locks, behind while the process lives on)."""
        self._stopping = True

    async def process_batch(self, batch: dict[TopicPartition, list]) -> None:
        self.stats["batches"] += 1
        started = time.perf_counter()
        try:
            await self._process_batch(batch)
        finally:
            self.metrics.batch_took(time.perf_counter() - started)

    async def _process_batch(self, batch: dict[TopicPartition, list]) -> None:
        done: dict[TopicPartition, int] = {}
        for tp, records in batch.items():
            if not records:
                continue
            if tp not in self.consumer.assignment():
                continue  # revoked meanwhile: the new owner replays them, the inbox dedups
            await self._process_partition(tp, records)
            done[tp] = records[-1].offset + 1
        await self.commit_offsets(done)

    async def commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        offsets = {tp: offset for tp, offset in offsets.items() if tp in self.consumer.assignment()}
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)
            self.stats["commits"] += 1
        except (CommitFailedError, KafkaError) as error:
            # The group rebalanced: these records will be redelivered and deduplicated.
            log.warning("offset commit failed (%s); records will be redelivered", type(error).__name__)

    async def _process_partition(self, tp: TopicPartition, records: list) -> None:
        with logged(topic=tp.topic, partition=tp.partition):
            await self._process_records(tp, records)

    async def _process_records(self, tp: TopicPartition, records: list) -> None:
        events: list[tuple[object, Envelope]] = []
        parse_started = time.perf_counter()
        for record in records:
            try:
                events.append((record, parse_record(record.headers, record.value, record.topic,
                                                    self.accepted.get(record.topic, {}))))
                self.metrics.consumed(events[-1][1].type)
            except BadRecord as error:
                await self.dead_letter(record, str(error))
        self._count_phases({"parse": time.perf_counter() - parse_started})  # dead letters included
        if not events:
            return
        try:
            await self._apply([event for _, event in events])
        except Exception as error:
            log.info("batch of %d on %s failed (%s); replaying one by one",
                     len(events), tp, type(error).__name__)
            for record, event in events:
                await self._apply_one_with_retry(record, event)

    async def _apply(self, events: list[Envelope]) -> None:
        """Apply events in order in one transaction, skipping those seen before."""
        async with self.sessions() as session:
            async with session.begin():
                unit = Unit(session=session, tables=self.tables, source=self.service, settings=self.settings,
                            now=self.clock())
                with unit.timed("inbox"):
                    seen = await already_processed(session, self.tables, events)
                fresh, duplicates = [], []
                for event in events:
                    if event.dedup_key in seen:
                        self.stats["duplicates"] += 1
                        duplicates.append(event.type)
                        continue
                    seen.add(event.dedup_key)
                    fresh.append(event)
                for event in fresh:
                    unit.record_processed(event)
                with unit.timed("handle"):
                    if self.handle_batch is not None:
                        if fresh:
                            await self.handle_batch(unit, fresh)
                    else:
                        for event in fresh:
                            with handling(event):
                                await self.handlers[event.type](unit, event)
                with unit.timed("write"):
                    await unit.flush()
                commit_started = time.perf_counter()
            unit.timings["commit"] = time.perf_counter() - commit_started
        self._count_phases(unit.timings)
        self.stats["processed"] += len(fresh)
        for event in fresh:  # counted once committed
            self.metrics.applied(event.type)
        for event_type in duplicates:
            self.metrics.duplicate(event_type)
        self.on_commit(unit)

    def _count_phases(self, timings: dict[str, float]) -> None:
        """Where a batch's time goes (parse, inbox, handle and a service's own phases
        within it, write, commit): for the metric and the benchmark's breakdown."""
        for phase, seconds in timings.items():
            self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + seconds
        self.metrics.phases_took(timings)

    async def _apply_one_with_retry(self, record, event: Envelope) -> None:
        failures = 0
        while True:
            try:
                with logged(offset=record.offset):
                    await self._apply([event])
                return
            except BadRecord as error:  # a handler found the content unacceptable
                await self.dead_letter(record, str(error), event_type=event.type)
                return
            except Exception as error:
                failures += 1
                if is_transient(error):
                    delay = self.retry.backoff(failures)
                    log.warning("database unavailable (%s); retrying %s in %.1fs",
                                type(error).__name__, event.type, delay)
                    await self.wait_keeping_partitions(delay)
                    continue
                if failures >= self.retry.handler_attempts:
                    log.error("event %s/%s failed %d times; dead-lettering it",
                              event.type, event.id, failures, exc_info=False)
                    await self.dead_letter(record, f"handler failed {failures} times: {_reason(error)}",
                                           event_type=event.type)
                    return
                await self.wait_keeping_partitions(self.retry.backoff(failures))

    async def wait_keeping_partitions(self, seconds: float) -> None:
        """Sleep while still polling, so the group does not take our partitions away
        (max_poll_interval_ms); paused partitions return nothing meanwhile."""
        assigned = set(self.consumer.assignment())
        self.consumer.pause(*assigned)
        try:
            unexpected = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
            # Partitions newly assigned during the wait are not paused: rewind them so
            # their records are read again later rather than skipped.
            for tp, records in unexpected.items():
                if records:
                    self.consumer.seek(tp, records[0].offset)
        finally:
            still = [tp for tp in assigned if tp in self.consumer.assignment()]
            self.consumer.resume(*still)

    async def dead_letter(self, record, reason: str, *, event_type: str | None = None) -> None:
        """Send `record` to `<topic>.dlq`; `event_type`: its type when it was a valid event
        (a metrics label: dead letters that were no valid event count as "invalid")."""
        headers = list(record.headers or ()) + [
            ("dlq-reason", reason.encode("utf-8", "replace")),
            ("dlq-service", self.service.encode()),
            ("dlq-time", datetime.now(timezone.utc).isoformat().encode()),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
        ]
        topic = dlq_topic(record.topic)
        failures = 0
        while True:
            try:
                await self.producer.send_and_wait(topic, value=record.value, key=record.key, headers=headers)
                break
            except KafkaError as error:  # keep the record: never commit past an undelivered DLQ write
                failures += 1
                log.warning("DLQ write to %s failed (%s); retrying", topic, type(error).__name__)
                await self.wait_keeping_partitions(self.retry.backoff(failures))
        self.stats["dead_lettered"] += 1
        self.metrics.dead_lettered(record.topic, event_type)
        log.warning("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason)
