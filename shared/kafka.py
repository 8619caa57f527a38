"""Kafka clients and topics, created only when a service starts (never at import)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from shared.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 3  # KAFKA_PARTITIONS' default


def create_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    # Idempotent producer with acks=all: a retried send is never written twice.
    return AIOKafkaProducer(
        **settings.kafka_client_options(),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
    )


def create_consumer(settings: Settings, group_id: str, topics: list[str]) -> AIOKafkaConsumer:
    # Offsets are committed by the service after its transaction commits (at-least-once).
    return AIOKafkaConsumer(
        *topics,
        **settings.kafka_client_options(),
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        # Notice topics and partitions created after subscribing within seconds, not 5 minutes.
        metadata_max_age_ms=5_000,
        max_poll_interval_ms=300_000,
        session_timeout_ms=10_000,  # a killed member is replaced within seconds
        heartbeat_interval_ms=3_000,
    )


# Beyond volunteers.*: topics whose events name a coordinator's address
# (help.offered, followups.overdue, alerts.raised) or spell out a volunteer's
# interests, skills and availability (opportunities.offered), or hold a note (todos.done).
PERSONAL_TOPICS = frozenset({"help.offered", "followups.overdue", "alerts.raised", "opportunities.offered",
                             "todos.done",  # a coordinator's free-text note
                             "shifts.assigned"})  # a contact person's name and phone number


def carries_personal_data(topic: str) -> bool:
    """Topics whose records hold names, addresses or other personal data: the
    volunteers' own topics, those above, and every dead-letter topic (a refused
    record is kept whole, whatever it carried)."""
    return topic.startswith("volunteers.") or topic in PERSONAL_TOPICS or topic.endswith(".dlq")


def topic_configs(topic: str, settings: Settings) -> dict[str, str]:
    """Config of a topic created here: personal data is kept KAFKA_PII_RETENTION_DAYS,
    not the broker's default (which may be forever), so an erasure also reaches
    the log in bounded time."""
    if carries_personal_data(topic):
        return {"retention.ms": str(settings.kafka_pii_retention_days * 24 * 60 * 60 * 1000)}
    return {}


async def ensure_topics(settings: Settings, topics: list[str], partitions: int | None = None,
                        attempts: int = 30) -> None:
    """Create missing topics with KAFKA_PARTITIONS partitions (or `partitions`),
    KAFKA_REPLICATION_FACTOR replicas and their config (see `topic_configs`);
    existing ones are left as they are, with a warning when their partition count
    differs. Waits for the broker to answer (up to `attempts` seconds)."""
    partitions = partitions or settings.kafka_partitions
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(**settings.kafka_client_options(), client_id="dankjewel-admin")
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = sorted(set(topics))
            missing = [t for t in wanted if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [NewTopic(name=t, num_partitions=partitions,
                                  replication_factor=settings.kafka_replication_factor,
                                  topic_configs=topic_configs(t, settings)) for t in missing]
                    )
                    log.info("created topics %s (%d partitions, replication factor %d)", ", ".join(missing),
                             partitions, settings.kafka_replication_factor)
                except TopicAlreadyExistsError:
                    pass
                await _wait_until_led(admin, missing, partitions)
            await _warn_about_partition_counts(admin, [t for t in wanted if t in existing], partitions)
            return
        except KafkaConnectionError:
            if attempt == attempts:
                raise
            log.warning("Kafka at %s does not answer yet (attempt %d)", settings.kafka_bootstrap_servers, attempt)
            await asyncio.sleep(1)
        finally:
            await admin.close()


def partition_mismatches(described: list[dict], partitions: int) -> dict[str, int]:
    """Topics (from the admin client's `describe_topics`) whose partition count is
    not `partitions`, with their count."""
    return {t["topic"]: len(t.get("partitions", ())) for t in described
            if not t.get("error_code") and t.get("topic") and len(t.get("partitions", ())) != partitions}


async def _warn_about_partition_counts(admin: AIOKafkaAdminClient, topics: list[str], partitions: int) -> None:
    """A WARNING per existing topic with another partition count than KAFKA_PARTITIONS;
    never more than that (the topic works, and repartitioning is the operator's call:
    adding partitions moves keys, so one volunteer's events may then be read out of order)."""
    if not topics:
        return
    try:
        described = await admin.describe_topics(topics)
    except Exception as error:  # the check is advice: start-up goes on without it
        log.info("could not check the partition counts of existing topics (%s)", type(error).__name__)
        return
    for topic, count in sorted(partition_mismatches(described, partitions).items()):
        log.warning("topic %s has %d partitions, KAFKA_PARTITIONS is %d; existing topics are left as they are",
                    topic, count, partitions)


async def _wait_until_led(admin: AIOKafkaAdminClient, topics: list[str], partitions: int,
                          timeout: float = 15.0) -> None:
    """Wait until every new topic shows all its partitions with a leader. A consumer that
    subscribes earlier may be assigned only the partitions that had one (seen in the
    fault suite: a service read one of three partitions of a topic it had just created)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        described = await admin.describe_topics(topics)
        led = {t.get("topic"): sum(1 for p in t.get("partitions", ()) if p.get("leader", p.get("leader_id", -1)) >= 0)
               for t in described if not t.get("error_code")}
        if all(led.get(topic, 0) >= partitions for topic in topics):
            return
        await asyncio.sleep(0.2)
    log.warning("topics %s: not every partition has a leader after %.0f s", ", ".join(topics), timeout)
