"""Two `dankjewel run all` processes on one PostgreSQL and 4-partition topics; one is
killed with SIGKILL mid-stream (issue 12, item 1).

What must hold afterwards: every expected mail arrived, each once apart from the mail
sender's documented in-doubt re-sends (a killed sender may have had at most two
accepted, unrecorded mails per SMTP connection: docs/appreciation.md), which are the
same mail (same Message-ID) again; every sweep mail arrived exactly once; each
volunteer's milestones are on `milestones.reached` in the order they happened, and
each sent mail is announced on `appreciations.sent`.

The session's broker is shared with the other integration tests, whose topics have
KAFKA_PARTITIONS' default of 3: topics with fewer than 4 partitions get 4 here
(keys of older records move, which no test after this one reads by partition), and
each service's new consumer group starts at the topics' current ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from services.appreciation.tables import ledger, mails
from services.registry import all_services
from shared.contracts import dlq_topic
from shared.envelope import structured_record
from shared.kafka import ensure_topics
from tests.integration.conftest import eventually, skip_history

PARTITIONS = 4
VOLUNTEERS = 200
SHIFTS = 10  # each 6 h: first-shift at the 1st, hours-50 at the 9th, shifts-10 at the 10th
SHIFT_MILESTONES = ["first-shift", "hours-50", "shifts-10"]
MAIL_CONNECTIONS = 4
IN_DOUBT_LIMIT = 2 * MAIL_CONNECTIONS  # accepted, unrecorded mails a killed sender can leave
SOURCE = "https://roster.example.org"
EXE = Path(sys.executable).parent / "dankjewel"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _four_partitions(settings, topics: list[str]) -> None:
    """Every topic exists with PARTITIONS partitions (created so, or grown to it)."""
    await ensure_topics(settings, topics, partitions=PARTITIONS)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        counts = {t["topic"]: len(t["partitions"]) for t in described}
        assert all(count <= PARTITIONS for count in counts.values()), counts
        fewer = {topic: NewPartitions(total_count=PARTITIONS) for topic, count in counts.items()
                 if count < PARTITIONS}
        if fewer:
            await admin.create_partitions(fewer)

        async def grown() -> bool:
            again = await admin.describe_topics(topics)
            return all(len(t["partitions"]) == PARTITIONS and all(p["leader"] >= 0 for p in t["partitions"])
                       for t in again)

        await eventually(grown, timeout=30)
    finally:
        await admin.close()


class Instance:
    """One `dankjewel run all` process with its own HTTP port and log file."""

    def __init__(self, name: str, env: dict, folder: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.log_path = folder / f"{name}.log"
        self.log_file = self.log_path.open("w")
        self.process = subprocess.Popen([str(EXE), "run", "all"], env=env | {"HTTP_PORT": str(self.port)},
                                        cwd=folder, stdout=self.log_file, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def ready(self) -> bool:
        assert self.process.poll() is None, f"{self.name} exited:\n{self.log()[-3000:]}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=3) as client:
            for service in all_services():
                try:
                    if (await client.get(f"/{service}/ready")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log_file.close()


def _events(index: int, run: str, now: datetime, anniversary: bool) -> list[tuple[str, bytes, list]]:
    """(topic, value, headers) of one volunteer: ten shifts, then the registration (the
    first mails wait for it). An anniversary volunteer started exactly a year ago."""
    volunteer_id = f"v{index:03d}-{run}"
    events = []
    for number in range(1, SHIFTS + 1):
        started = now - timedelta(hours=100) + timedelta(hours=7 * number)
        data = {"shift_id": f"{volunteer_id}-s{number}", "volunteer_id": volunteer_id,
                "started_at": started.isoformat(), "ended_at": (started + timedelta(hours=6)).isoformat()}
        events.append(("shifts.completed", *structured_record("dankjewel.shift.completed.v1", data, source=SOURCE,
                                                              event_id=f"{volunteer_id}-s{number}")))
    registration = {"volunteer_id": volunteer_id, "name": f"Vrijwilliger {index}",
                    "email": f"{volunteer_id}@example.org", "language": "nl", "registered_at": now.isoformat()}
    if anniversary:
        registration["service_started_on"] = now.date().replace(year=now.year - 1).isoformat()
    events.append(("volunteers.registered", *structured_record("dankjewel.volunteer.registered.v1", registration,
                                                               source=SOURCE, event_id=f"{volunteer_id}-reg")))
    return events


async def _publish(bootstrap: str, events: list[tuple[str, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        deliveries = [await producer.send(topic, value=value, headers=headers,
                                          key=json.loads(value)["data"]["volunteer_id"].encode())
                      for topic, value, headers in events]
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def _ends(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return await consumer.end_offsets([TopicPartition(t, p) for t in topics for p in range(PARTITIONS)])
    finally:
        await consumer.stop()


async def _records_since(bootstrap: str, starts: dict[TopicPartition, int]) -> list:
    """Every record from `starts` to the current ends, in offset order per partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    found = []
    try:
        consumer.assign(list(starts))
        ends = await consumer.end_offsets(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        remaining = {tp for tp in starts if ends[tp] > starts[tp]}
        deadline = time.monotonic() + 30
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batch.items():
                found += [r for r in records if r.offset < ends[tp]]
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        assert not remaining, f"could not read {remaining}"
    finally:
        await consumer.stop()
    return sorted(found, key=lambda r: (r.topic, r.partition, r.offset))


async def test_two_instances_one_killed_mid_stream_lose_nothing_and_repeat_nothing(
        settings, smtp_server, tmp_path):
    started_test = time.monotonic()
    services = all_services().values()
    topics = sorted({t.topic for d in services for t in d.consumes + d.publishes}
                    | {dlq_topic(t.topic) for d in services for t in d.consumes})
    await _four_partitions(settings, topics)
    for definition in services:  # the processes' groups start at the topics' ends
        await skip_history(settings, definition)
    watched = ["milestones.reached", "appreciations.sent"]
    starts = await _ends(settings.kafka_bootstrap_servers, watched)

    env = {name: value for name, value in os.environ.items() if not name.startswith(("KAFKA_", "SMTP_", "MAIL_"))}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "DATABASE_URL": settings.database_url,
            "KAFKA_GROUP_PREFIX": settings.kafka_group_prefix, "KAFKA_PARTITIONS": str(PARTITIONS),
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port), "MAIL_CONNECTIONS": str(MAIL_CONNECTIONS),
            "MAIL_RETRY_SECONDS": "1", "MAIL_RETRY_MAX_SECONDS": "2", "SWEEP_INTERVAL_SECONDS": "1",
            "ORG_TIMEZONE": "UTC", "API_TOKENS_FILE": str(tmp_path / "api-tokens.json"),
            "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(32), "CONSOLE_SESSION_SECRET": secrets.token_urlsafe(32),
            "LOG_FORMAT": "text", "DEFAULT_COORDINATOR_EMAIL": "coordinator@example.org"}
    first, second = Instance("first", env, tmp_path), Instance("second", env, tmp_path)
    instances = [first, second]
    engine = create_async_engine(settings.database_url)
    try:
        for instance in instances:
            await eventually(instance.ready, timeout=90, interval=0.5)
        ready_after = time.monotonic() - started_test

        run, now = uuid.uuid4().hex[:6], datetime.now(timezone.utc)
        # Anniversaries (swept, not consumed) among the volunteers published before the
        # kill and among those published after it: not among those published just
        # before it, whose sweep mail the killed process could have had in flight.
        anniversary = {i for i in range(VOLUNTEERS) if i % 4 == 0 and not 100 <= i < 150}
        events = {i: _events(i, run, now, i in anniversary) for i in range(VOLUNTEERS)}
        address = {i: f"v{i:03d}-{run}@example.org" for i in range(VOLUNTEERS)}
        expected = Counter({(address[i], "first-shift-thanks"): 1 for i in range(VOLUNTEERS)})
        expected.update({(address[i], "milestone-card"): 2 for i in range(VOLUNTEERS)})
        expected.update({(address[i], "service-anniversary"): 1 for i in anniversary})

        def distinct_mails(indices) -> int:  # distinct Message-IDs arrived for these volunteers
            wanted = {address[i] for i in indices}
            return len({m["Message-ID"] for m in smtp_server.messages if m["To"] in wanted})

        def swept(indices) -> int:
            wanted = {address[i] for i in indices}
            return sum(1 for m in smtp_server.messages
                       if m["To"] in wanted and m["X-Dankjewel-Notification"] == "service-anniversary")

        # 1. Both instances work on the first 100 volunteers, until their sweep mails are out.
        await _publish(settings.kafka_bootstrap_servers, [e for i in range(100) for e in events[i]])
        early = {i for i in anniversary if i < 100}
        await eventually(lambda: swept(early) >= len(early), timeout=90, interval=0.2)
        # 2. More volunteers, and the first instance is killed while they are being handled.
        await _publish(settings.kafka_bootstrap_servers, [e for i in range(100, 150) for e in events[i]])
        await eventually(lambda: distinct_mails(range(100, 150)) >= 10, timeout=60, interval=0.05)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        killed_at = time.monotonic()
        # 3. The rest goes to the survivor alone.
        await _publish(settings.kafka_bootstrap_servers, [e for i in range(150, VOLUNTEERS) for e in events[i]])

        # Mails the killed sender had claimed wait for its claim to run out (60 s).
        total = sum(expected.values())
        await eventually(lambda: len({m["Message-ID"] for m in smtp_server.messages}) >= total, timeout=150,
                         interval=0.5)

        # A mail the killed sender sent but had not recorded arrived already; its row stays
        # pending until the claim runs out, and then the survivor sends it again (a repeat).
        async def all_recorded() -> bool:
            async with engine.connect() as connection:
                return not await connection.scalar(select(func.count()).select_from(mails).where(
                    mails.c.volunteer_id.like(f"%-{run}"), mails.c.status != "sent"))

        await eventually(all_recorded, timeout=120, interval=0.5)
        await asyncio.sleep(3)  # an unwanted extra mail would arrive now
        assert second.process.poll() is None, second.log()[-3000:]

        # Every expected mail, and nothing else; repeats only as the same Message-ID,
        # at most what the killed sender could have had in doubt.
        arrived = Counter((m["To"], m["X-Dankjewel-Notification"]) for m in smtp_server.messages)
        per_message = Counter(m["Message-ID"] for m in smtp_server.messages)
        distinct = Counter((m["To"], m["X-Dankjewel-Notification"])
                           for m in {m["Message-ID"]: m for m in smtp_server.messages}.values())
        assert distinct == expected
        repeats = sum(count - 1 for count in per_message.values())
        assert repeats <= IN_DOUBT_LIMIT, f"{repeats} mails sent twice; the documented bound is {IN_DOUBT_LIMIT}"
        assert sum(arrived.values()) == total + repeats
        # Sweep mails: exactly once each, swept by two instances taking turns, then by one.
        assert {key: count for key, count in arrived.items() if key[1] == "service-anniversary"} == \
            {(address[i], "service-anniversary"): 1 for i in anniversary}

        async with engine.connect() as connection:
            queued = dict((await connection.execute(
                select(mails.c.notification, func.count()).where(mails.c.volunteer_id.like(f"%-{run}"))
                .group_by(mails.c.notification))).all())
            unsent = await connection.scalar(select(func.count()).select_from(mails).where(
                mails.c.volunteer_id.like(f"%-{run}"), mails.c.status != "sent"))
            years = await connection.scalar(select(func.count()).select_from(ledger).where(
                ledger.c.volunteer_id.like(f"%-{run}"), ledger.c.milestone == "years-1"))
        assert queued == {"first-shift-thanks": VOLUNTEERS, "milestone-card": 2 * VOLUNTEERS,
                          "service-anniversary": len(anniversary)}
        assert (unsent, years) == (0, len(anniversary))

        # The output topics: each volunteer's events in one partition, in the order they happened.
        async def all_announced() -> list | None:
            records = await _records_since(settings.kafka_bootstrap_servers, starts)
            sent_ids = {json.loads(r.value)["id"] for r in records
                        if r.topic == "appreciations.sent" and r.key.decode().endswith(run)}
            return records if len(sent_ids) == total else None

        records = await eventually(all_announced, timeout=30, interval=1)
        partitions, milestones = defaultdict(set), defaultdict(list)
        for record in records:
            if not record.key.decode().endswith(run):
                continue
            partitions[(record.topic, record.key)].add(record.partition)
            event = json.loads(record.value)
            if record.topic == "milestones.reached" and event["id"] not in {e["id"] for e in milestones[record.key]}:
                milestones[record.key].append(event)  # a relay re-send repeats an id: its first place counts
        assert all(len(p) == 1 for p in partitions.values())
        for i in range(VOLUNTEERS):
            reached = [e["data"]["milestone"] for e in milestones[f"v{i:03d}-{run}".encode()]]
            assert [m for m in reached if m in SHIFT_MILESTONES] == SHIFT_MILESTONES, (i, reached)
            assert reached.count("years-1") == (1 if i in anniversary else 0), (i, reached)
            assert len(reached) == len(SHIFT_MILESTONES) + (i in anniversary), (i, reached)

        # The subprocesses' logs name nobody either.
        for instance in instances:
            assert "@example.org" not in instance.log(), instance.name
        print(f"two instances: {total} mails, {repeats} sent again after the kill; both ready after "
              f"{ready_after:.0f} s, killed after {killed_at - started_test:.0f} s, "
              f"{time.monotonic() - killed_at:.0f} s from the kill to the end, "
              f"{time.monotonic() - started_test:.0f} s in all")
    finally:
        for instance in instances:
            with contextlib.suppress(Exception):
                instance.stop()
        await engine.dispose()


async def test_two_migrate_commands_at_once_apply_each_migration_once(database_url, tmp_path):
    """`dankjewel migrate` as a deploy step, started twice at the same moment (two
    deploy jobs): the advisory lock lets one apply each service's migrations, the other
    finds them applied; both exit 0 and the tables are at the newest revision."""
    from shared.db import applied_revisions, migration_heads

    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"} | {
        "DATABASE_URL": database_url}
    commands = [subprocess.Popen([str(EXE), "migrate"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [command.communicate(timeout=180) for command in commands]
    assert [command.returncode for command in commands] == [0, 0], outputs
    applied = [line.split(": applied ", 1)[1].split(" (now at", 1)[0].split(", ")
               for out, _ in outputs for line in out.splitlines() if ": applied " in line]
    revisions = [revision for lines in applied for revision in lines]
    assert len(revisions) == len(set(revisions))  # none applied by both
    assert sum(int(out.splitlines()[-1].split()[0]) for out, _ in outputs) == len(revisions)
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            for name, definition in all_services().items():
                heads = migration_heads(name, definition.migrations_dir)
                assert await applied_revisions(connection, name) == heads
    finally:
        await engine.dispose()
    assert {revision.split("_")[0] for revision in revisions} == set(all_services())
