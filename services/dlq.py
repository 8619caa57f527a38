"""`dankjewel dlq list|replay TOPIC`: look at the dead letters of a topic, and send
them back to it once the producer or the service is fixed.

A dead letter (shared/consumer.py) is the refused record's key, value and headers
plus `dlq-reason`, `dlq-service`, `dlq-time`, `dlq-original-topic`,
`dlq-original-partition` and `dlq-original-offset`. Listing shows only those
headers, never the key or value: they may hold names and addresses.

Replaying publishes the original key, value and headers (the dlq-* ones left out)
to the original topic. The services' inboxes deduplicate by CloudEvent source + id,
so replaying the same dead letter again has no second effect.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from shared.contracts import dlq_topic

DLQ_SUFFIX = ".dlq"
DLQ_HEADER_PREFIX = "dlq-"
REASON_LIMIT = 200


class DlqError(Exception):
    """The command cannot run (no such topic, a bad --since); says why."""


def topics_of(topic: str) -> tuple[str, str]:
    """(original topic, dead-letter topic) for either name, e.g. `shifts.completed`."""
    topic = topic.strip()
    original = topic.removesuffix(DLQ_SUFFIX)
    if not original or original.endswith(DLQ_SUFFIX):
        raise DlqError(f"{topic!r} is not a topic or dead-letter topic name")
    return original, dlq_topic(original)


def parse_since(text: str | None) -> datetime | None:
    """An ISO 8601 date (its midnight) or moment; without a time zone it is read as UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DlqError(f"--since {text!r} is not an ISO 8601 date or moment") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value is not None else ""


def printable(text: str, limit: int = REASON_LIMIT) -> str:
    """One line without control characters (a reason may quote a type a stranger chose),
    at most `limit` characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _known(number: int | None) -> str:
    return "?" if number is None else str(number)


def _columns(*cells: str) -> str:
    return "{:<11} {:<25} {:<14} {:<30} {}".format(*cells)


LIST_HEADER = _columns("DLQ", "DLQ-TIME", "SERVICE", "ORIGINAL", "REASON")


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # on the dead-letter topic
    offset: int
    time: datetime | None  # dlq-time, else the record's timestamp
    service: str
    reason: str
    original_topic: str
    original_partition: int | None
    original_offset: int | None
    key: bytes | None = field(repr=False, default=None)  # never shown: may be personal
    value: bytes | None = field(repr=False, default=None)
    headers: tuple[tuple[str, bytes], ...] = field(repr=False, default=())  # the original ones only

    def line(self) -> str:
        """What `dlq list` prints: where it is, when, who refused it, from where, why."""
        when = self.time.isoformat(timespec="seconds") if self.time else "?"
        where = f"{self.original_topic or '?'}[{_known(self.original_partition)}]@{_known(self.original_offset)}"
        return _columns(f"{self.partition}@{self.offset}", when, printable(self.service, 40) or "?",
                        printable(where, 120), printable(self.reason))

    def content_digest(self) -> str:
        """Same key, value and headers, same digest: one record refused by several
        services is replayed once."""
        digest = hashlib.sha256()
        for part in (self.key, self.value, *(n.encode() + b"\0" + (v or b"") for n, v in self.headers)):
            digest.update(b"-" if part is None else len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()


def read_dead_letter(record) -> DeadLetter:  # noqa: ANN001
    """A consumed record of a dead-letter topic as a DeadLetter; any header may be
    missing or malformed (something else may have written to the topic)."""
    headers = [(name, value) for name, value in (record.headers or ())]
    dlq = {name: _text(value) for name, value in headers if name.startswith(DLQ_HEADER_PREFIX)}
    moment = None
    try:
        moment = datetime.fromisoformat(dlq.get("dlq-time", ""))
    except ValueError:
        pass
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment is None and (getattr(record, "timestamp", None) or -1) > 0:
        moment = datetime.fromtimestamp(record.timestamp / 1000, timezone.utc)
    return DeadLetter(
        partition=record.partition, offset=record.offset, time=moment,
        service=dlq.get("dlq-service", ""), reason=dlq.get("dlq-reason", ""),
        original_topic=dlq.get("dlq-original-topic", ""),
        original_partition=_int(dlq.get("dlq-original-partition", "")),
        original_offset=_int(dlq.get("dlq-original-offset", "")),
        key=record.key, value=record.value,
        headers=tuple((name, value) for name, value in headers if not name.startswith(DLQ_HEADER_PREFIX)))


def selected(letter: DeadLetter, *, since: datetime | None = None, service: str | None = None) -> bool:
    """Whether the filters of the command keep `letter`; one without a time never
    passes --since (we cannot tell it is recent)."""
    if service is not None and letter.service != service:
        return False
    if since is not None and (letter.time is None or letter.time < since):
        return False
    return True


def summary(reasons: Iterable[str]) -> list[tuple[str, int]]:
    """Counts per reason (as listed), most frequent first."""
    counts = Counter(printable(reason) or "(no reason)" for reason in reasons)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def replay_problem(letter: DeadLetter, original_topic: str, seen: set[str]) -> str | None:
    """Why `letter` is not replayed (None: it is). Records only go back to the topic the
    dead-letter topic belongs to; `seen` holds the content digests replayed in this run."""
    if not letter.original_topic:
        return "no dlq-original-topic header"
    if letter.original_topic != original_topic:
        return f"dlq-original-topic is {printable(letter.original_topic, 100)!r}, not {original_topic!r}"
    if letter.value is None:
        return "no value (a tombstone)"
    digest = letter.content_digest()
    if digest in seen:
        return "the same record was replayed already in this run"
    seen.add(digest)
    return None


# Kafka from here on.

async def _partitions(settings, topic: str) -> list[int]:  # noqa: ANN001
    """The topic's partition ids. Asks for all topics' metadata: asking for this one
    could create it on a broker that creates topics on first use."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**settings.kafka_client_options(), client_id=f"{settings.kafka_group_prefix}-dlq")
    try:
        await admin.start()
        described = await admin.describe_topics()
    finally:
        await admin.close()
    for entry in described:
        if entry.get("topic") == topic and not entry.get("error_code"):
            return sorted(p["partition"] for p in entry.get("partitions", ()))
    raise DlqError(f"no topic {topic!r} on the broker")


async def read_dead_letters(settings, topic: str) -> AsyncIterator[DeadLetter]:  # noqa: ANN001
    """Every dead letter on `topic`, from the beginning up to the end offsets read when
    starting (letters written meanwhile wait for the next run: the read always ends).
    A consumer without a group: nothing is committed, so nothing is skipped next time."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ids = await _partitions(settings, topic)
    partitions = [TopicPartition(topic, p) for p in ids]
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", client_id=f"{settings.kafka_group_prefix}-dlq")
    try:
        await consumer.start()
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        await consumer.seek_to_beginning(*partitions)
        while remaining:
            for tp in list(remaining):  # empty (expired) partitions are done at once
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            if not remaining:
                break
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < end[tp]:
                        yield read_dead_letter(record)
    finally:
        await consumer.stop()


@dataclass
class ListResult:
    shown: int = 0
    matched: int = 0
    reasons: list[tuple[str, int]] = field(default_factory=list)


async def list_dead_letters(settings, topic: str, *, since: datetime | None = None,  # noqa: ANN001
                            limit: int | None = None, on_letter: Callable[[DeadLetter], None]) -> ListResult:
    """Pass the first `limit` matching dead letters to `on_letter`; count all of them."""
    _, dead_letter_topic = topics_of(topic)
    result, reasons = ListResult(), []
    async for letter in read_dead_letters(settings, dead_letter_topic):
        if not selected(letter, since=since):
            continue
        result.matched += 1
        reasons.append(letter.reason)
        if limit is None or result.shown < limit:
            on_letter(letter)
            result.shown += 1
    result.reasons = summary(reasons)
    return result


@dataclass
class ReplayPlan:
    topic: str  # where the records go back to
    replay: list[DeadLetter] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)


async def plan_replay(settings, topic: str, *, since: datetime | None = None,  # noqa: ANN001
                      service: str | None = None) -> ReplayPlan:
    """Read the dead-letter topic and decide, for each dead letter the filters keep,
    whether it goes back (in the order read: per partition, so per key, as refused)."""
    original, dead_letter_topic = topics_of(topic)
    plan, seen = ReplayPlan(original), set()
    async for letter in read_dead_letters(settings, dead_letter_topic):
        if not selected(letter, since=since, service=service):
            continue
        problem = replay_problem(letter, original, seen)
        if problem is None:
            plan.replay.append(letter)
        else:
            plan.skipped.append((letter, problem))
    return plan


async def replay(settings, plan: ReplayPlan, *,  # noqa: ANN001
                 on_sent: Callable[[DeadLetter], None] | None = None) -> int:
    """Publish the plan's records to their original topic (idempotent producer, acks=all);
    returns how many."""
    from shared.kafka import create_producer

    if not plan.replay:
        return 0
    producer = create_producer(settings, client_id=f"{settings.kafka_group_prefix}-dlq-replay")
    await producer.start()
    sent = 0
    try:
        for start in range(0, len(plan.replay), 500):  # a few hundred in flight; order per partition holds
            chunk = plan.replay[start:start + 500]
            deliveries = [await producer.send(plan.topic, value=letter.value, key=letter.key,
                                              headers=list(letter.headers)) for letter in chunk]
            for letter, delivery in zip(chunk, deliveries):
                await delivery
                sent += 1
                if on_sent is not None:
                    on_sent(letter)
    finally:
        await producer.stop()
    return sent
