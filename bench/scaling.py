"""Phase 8: pipeline throughput with one and with two consumer processes of the
appreciation service on 4 partitions (issue 12: several instances per service).

Each run: N first shifts of N registered volunteers (COPYed, as in phase 2), keyed by
volunteer, so the default partitioner spreads them over the 4 partitions of
`shifts.completed`. The consumer processes (`dankjewel run appreciation
--no-background`: consumer and outbox relay, no mail sender, as phase 2 holds it
back) start first, in a consumer group of their own positioned at the topics' ends;
once the group is stable with all of them, the backlog is produced, and the rate is
taken from the service's inbox: rows counted every 20 ms, the events applied between
the first count above zero and the last, over that time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

PARTITIONS = 4
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def four_partitions(settings, topics: list[str]) -> None:
    """Every topic with PARTITIONS partitions: created so, or grown to it (the
    benchmark's own broker made them with one partition for phases 1-3)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

    from shared.kafka import ensure_topics

    await ensure_topics(settings, topics, partitions=PARTITIONS)
    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        counts = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(topics)}
        fewer = {topic: NewPartitions(total_count=PARTITIONS) for topic, count in counts.items()
                 if count < PARTITIONS}
        if fewer:
            await admin.create_partitions(fewer)
        for _ in range(150):
            described = await admin.describe_topics(topics)
            if all(len(t["partitions"]) >= PARTITIONS and all(p["leader"] >= 0 for p in t["partitions"])
                   for t in described):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the topics did not get 4 partitions with leaders within 30 s")
    finally:
        await admin.close()


async def start_at_ends(settings, group: str, topics: list[str]) -> None:
    """Commit the topics' end offsets for `group`: it reads only what comes next."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # a configured broker's topics may have more partitions than 4
        partitions = [TopicPartition(topic, p) for topic in topics
                      for p in sorted(consumer.partitions_for_topic(topic) or range(PARTITIONS))]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def group_members(settings, group: str) -> int:
    """Members of a Stable consumer group (0 while it is rebalancing or empty)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(**settings.kafka_client_options())
    await admin.start()
    try:
        for response in await admin.describe_consumer_groups([group]):
            for entry in response.groups:
                error, group_id, state, members = entry[0], entry[1], entry[2], entry[5]
                if group_id == group and not error and state == "Stable":
                    return len(members)
        return 0
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def consumer_processes(settings, count: int, group_prefix: str, folder: Path):
    """`count` processes of `dankjewel run appreciation --no-background`, stopped (SIGTERM) at the end."""
    env = {k: v for k, v in os.environ.items() if k not in ("RULES_FILE",)} | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "DATABASE_URL": settings.database_url,
        "KAFKA_GROUP_PREFIX": group_prefix, "KAFKA_PARTITIONS": str(PARTITIONS),
        "UNSUBSCRIBE_SECRET": settings.unsubscribe_secret.get_secret_value(),
        "SWEEP_INTERVAL_SECONDS": "86400", "API_TOKENS_FILE": str(folder / "api-tokens.json"), "LOG_FORMAT": "text"}
    processes = []
    try:
        for number in range(count):
            log = (folder / f"{group_prefix}-{number}.log").open("w")
            processes.append((await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "dankjewel"), "run", "appreciation", "--no-background",
                "--log-level", "WARNING", env=env | {"HTTP_PORT": str(_free_port())},
                stdout=log, stderr=log, cwd=folder), log))
        yield [process for process, _ in processes]
    finally:
        for process, _ in processes:
            if process.returncode is None:
                process.terminate()
        for process, log in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
            log.close()


async def produce_keyed(settings, volunteer_ids: list[str], ended_at: datetime) -> None:  # noqa: ANN001
    """Each volunteer's first shift, to the partition its key hashes to."""
    from aiokafka import AIOKafkaProducer

    from bench.run import shift_event

    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all", linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        deliveries = []
        for volunteer_id in volunteer_ids:
            value, headers = shift_event(volunteer_id, ended_at)
            deliveries.append(await producer.send("shifts.completed", value=value, key=volunteer_id.encode(),
                                                  headers=headers))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def applied_count(connection, prefix: str) -> int:  # noqa: ANN001
    return await connection.fetchval("SELECT count(*) FROM appreciation_inbox WHERE event_id LIKE $1", prefix + "%")


async def one_run(settings, processes: int, events: int, ended_at: datetime, folder: Path, say) -> dict:  # noqa: ANN001
    import asyncpg

    from bench.run import copy_volunteers, pg_dsn, registered
    from services.appreciation.service import definition

    run = uuid.uuid4().hex[:6]
    ids = [f"sc{processes}-{run}-{i:07d}" for i in range(events)]
    started_on = (ended_at - timedelta(days=40)).date()
    await copy_volunteers(settings.database_url, (registered(v, started_on, started_on + timedelta(days=358))
                                                  for v in ids))
    group_prefix = f"bench-scale{processes}-{run}"
    consumed = sorted({t.topic for t in definition.consumes})
    await start_at_ends(settings, f"{group_prefix}-{definition.name}", consumed)
    connection = await asyncpg.connect(pg_dsn(settings.database_url))
    try:
        async with consumer_processes(settings, processes, group_prefix, folder) as running:
            deadline = time.monotonic() + 120
            while await group_members(settings, f"{group_prefix}-{definition.name}") != processes:
                if time.monotonic() > deadline or any(p.returncode is not None for p in running):
                    raise RuntimeError(f"{processes} consumer processes did not form a stable group; "
                                       f"see {folder}")
                await asyncio.sleep(0.25)
            say(f"scaling: {processes} process(es) joined; producing {events:,} events over {PARTITIONS} partitions")
            await produce_keyed(settings, ids, ended_at)
            prefix = f"shift:sc{processes}-{run}-"
            first = last = None
            count_at_first = done = 0
            deadline = time.monotonic() + max(120.0, events / 50)
            while time.monotonic() < deadline:
                done = await applied_count(connection, prefix)
                now = time.perf_counter()
                if done and first is None:
                    first, count_at_first = now, done
                if done >= events:
                    last = now
                    break
                await asyncio.sleep(0.02)
    finally:
        await connection.close()
    if last is None or last <= first:
        return {"rate": float("nan"), "applied": done, "seconds": float("nan")}
    return {"rate": (events - count_at_first) / (last - first), "applied": done, "seconds": last - first}


async def scaling_phase(settings, events: int, ended_at: datetime, result, say) -> None:  # noqa: ANN001
    from services.appreciation.service import definition
    from shared.contracts import dlq_topic

    topics = sorted({t.topic for t in definition.consumes + definition.publishes}
                    | {dlq_topic(t.topic) for t in definition.consumes})
    await four_partitions(settings, topics)
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as folder:
        for processes in (1, 2):
            say(f"scaling: {events:,} events, {processes} consumer process(es)")
            run = await one_run(settings, processes, events, ended_at, Path(folder), say)
            result.figures[f"scaling_{processes}"] = run
            if run["applied"] < events:
                result.notes.append(f"scaling: {processes} process(es) applied {run['applied']:,} of {events:,} "
                                    "events in time")


def scaling_rows(events: int, figures: dict) -> list:
    from bench.report import Row

    nan = float("nan")
    one, two = figures.get("scaling_1", {}), figures.get("scaling_2", {})
    rate_one, rate_two = one.get("rate", nan), two.get("rate", nan)
    return [
        Row("8 pipeline throughput, 1 process (4 partitions)", rate_one, "events/s",
            note=f"{events:,} events in {one.get('seconds', nan):.2f} s; `run appreciation --no-background`"),
        Row("8 pipeline throughput, 2 processes (4 partitions)", rate_two, "events/s",
            note=f"{events:,} events in {two.get('seconds', nan):.2f} s; one consumer group, 2 partitions each"),
        Row("8 2 processes / 1 process", rate_two / rate_one if rate_one else nan, "x",
            note="both processes share the machine's cores with Kafka, PostgreSQL and the benchmark"),
    ]
