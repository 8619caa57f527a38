"""The benchmark: raw consume ceiling, pipeline throughput, publish → SMTP latency,
the anniversary sweep, and the service's resource figures, in one run.

Phases (each bounded in count and time):
  0. servers: our own Kafka + PostgreSQL (deploy scripts) unless configured
  1. N first-shift events are produced to partition 0 of `shifts.completed`; the
     raw aiokafka consume rate of exactly those records is measured (best of 3)
  2. an appreciation ServiceRuntime consumes them: events/s from its first batch to
     its last; its mail sender is held back (see below) so this is the consumer path
  3. latency at a fixed rate: first shifts of new, registered volunteers; publish
     time in the producer, hand-off time in an aiosmtpd handler (matched by RCPT TO)
  4. the anniversary sweep over M bulk-copied volunteers: time, RSS delta, and in a
     second identical run the tracemalloc peak
  5. resource figures of phases 2-3; 6. the console's Today page (bench/console_page.py)
  7. the peer (bench/peer.py: faststream + SQLAlchemy ORM + aiosmtplib as their docs
     teach) on its own topic: throughput over a backlog, then latency as in phase 3
  8. pipeline throughput with 1 and with 2 consumer processes on 4 partitions (bench/scaling.py)
  9. `dankjewel import` speed from a generated CSV (bench/import_speed.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from bench.infra import Servers
from bench.probes import RssSampler, TimingSmtp, max_rss_bytes, percentile, rss_bytes
from bench.report import Row, render_table
from shared.envelope import structured_record
from services.settings import DankjewelSettings as Settings

log = logging.getLogger("bench")

SOURCE = "https://bench.example.org"
MB = 1024 * 1024
DRAIN_LIMIT = 150.0  # seconds to wait for the latency phase's mails after the last publish
STALL = 15.0  # ... or this long without a new mail


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    events: int = 20_000
    volunteers: int = 1_000_000
    rate: float = 100.0
    latency_seconds: float = 30.0
    # The target is met with the configuration the service ships (issue: "no overrides"):
    # its MAIL_CONNECTIONS default; --mail-connections measures another.
    mail_connections: int = Settings.model_fields["mail_connections"].default
    timeout: float = 560.0
    kafka_port: int = 28192
    pg_port: int = 24433
    profile: str | None = None
    quick: bool = False
    # The peer sends each mail before its next event, so it is much slower than
    # phase 2: a smaller backlog keeps the phase within minutes (quick: seconds).
    peer_events: int = 2_000
    scaling_events: int = 20_000  # phase 8, per run (1 process, then 2)
    import_rows: int = 1_000_000  # phase 9


@dataclass
class Results:
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- data


def shift_event(volunteer_id: str, ended_at: datetime) -> tuple[bytes, list]:
    """A structured-mode CloudEvent: this volunteer's first shift, ended at `ended_at`."""
    data = {"shift_id": f"{volunteer_id}-s1", "volunteer_id": volunteer_id,
            "started_at": (ended_at - timedelta(hours=2)).isoformat(), "ended_at": ended_at.isoformat(),
            "task": "bench"}
    return structured_record("dankjewel.shift.completed.v1", data, source=SOURCE, event_id=f"shift:{volunteer_id}",
                             time=ended_at)


VOLUNTEER_COLUMNS = ("volunteer_id", "name", "email", "language", "service_started_on", "coordinator_email",
                     "registered_at", "consent", "next_sweep_on")


def registered(volunteer_id: str, started_on: date, next_sweep_on: date | None) -> tuple:
    registered_at = datetime(started_on.year, started_on.month, started_on.day, 9, tzinfo=timezone.utc)
    return (volunteer_id, f"Volunteer {volunteer_id}", f"{volunteer_id}@example.org", "nl", started_on,
            "coordinator@example.org", registered_at, True, next_sweep_on)


def pg_dsn(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


async def copy_volunteers(database_url: str, rows, chunk: int = 50_000) -> int:
    """Bulk-load appreciation_volunteers with COPY (rows: an iterable of tuples)."""
    import asyncpg

    connection = await asyncpg.connect(pg_dsn(database_url))
    count = 0
    try:
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                await connection.copy_records_to_table("appreciation_volunteers", records=batch,
                                                       columns=VOLUNTEER_COLUMNS)
                count += len(batch)
                batch = []
        if batch:
            await connection.copy_records_to_table("appreciation_volunteers", records=batch,
                                                   columns=VOLUNTEER_COLUMNS)
            count += len(batch)
        await connection.execute("ANALYZE appreciation_volunteers")
    finally:
        await connection.close()
    return count


async def sql(database_url: str, statement: str, *args) -> str:
    import asyncpg

    connection = await asyncpg.connect(pg_dsn(database_url))
    try:
        return await connection.execute(statement, *args)
    finally:
        await connection.close()


async def reset_database(database_url: str) -> None:
    """Drop the appreciation service's own tables (and only those); the runtime migrates afresh."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from services.appreciation.tables import metadata

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
            await connection.execute(text("DROP TABLE IF EXISTS alembic_version_appreciation"))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- kafka


async def prepare_topics(settings, own_broker: bool, group: str) -> None:
    """Topics of the service (one partition each on our own broker), and the
    benchmark's consumer group positioned at their ends (a configured broker may
    hold older records the benchmark must not count)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from services.appreciation.service import definition
    from shared.contracts import dlq_topic
    from shared.kafka import ensure_topics

    consumed = sorted({t.topic for t in definition.consumes})
    everything = sorted(set(consumed) | {t.topic for t in definition.publishes} | {dlq_topic(t) for t in consumed})
    await ensure_topics(settings, everything, partitions=1 if own_broker else 3)
    if own_broker:
        return  # a fresh broker: nothing older to skip
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        for _ in range(40):  # metadata of just-created topics may lag a little
            await consumer.topics()
            if all(consumer.partitions_for_topic(topic) for topic in consumed):
                break
            await asyncio.sleep(0.25)
        partitions = [TopicPartition(topic, p) for topic in consumed
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise RuntimeError(f"no partition metadata for {', '.join(consumed)}")
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def produce_backlog(settings, volunteer_ids: list[str], ended_at: datetime,
                          topic: str = "shifts.completed") -> tuple[int, int]:
    """All events to partition 0 of `topic`; returns (first offset, count)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all", linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        futures = []
        for volunteer_id in volunteer_ids:
            value, headers = shift_event(volunteer_id, ended_at)
            futures.append(await producer.send(topic, value=value, key=volunteer_id.encode(),
                                               headers=headers, partition=0))
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return min(m.offset for m in metadata), len(metadata)


async def raw_consume_rate(settings, start_offset: int, count: int) -> float:
    """Events/s of a bare aiokafka consumer (getmany, no processing) reading the same records."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition("shifts.completed", 0)
    consumer = AIOKafkaConsumer(**settings.kafka_client_options(), group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed", max_poll_records=500)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, start_offset)
        got, started = 0, time.perf_counter()
        deadline = started + 60
        while got < count and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=500)
            got += sum(len(records) for records in batch.values())
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
    if got < count:
        raise RuntimeError(f"raw consumer read only {got} of {count} records within 60 s")
    return count / elapsed


# --------------------------------------------------------------------------- phases


class HeldClock:
    """The runtime's clock, shifted back by `lag` while the mail sender is held back:
    queued mails are due at wall-clock now, the sender looks for mails due at clock()."""

    def __init__(self) -> None:
        self.lag = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) - self.lag


async def wait_until(check, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if check():
            return True
        await asyncio.sleep(interval)
    return bool(check())


async def pipeline_phase(runtime, count: int, deadline_s: float, result: Results) -> None:
    """Throughput of the consumer path, timed from the start of its first batch to the end of its last."""
    consumer = runtime.consumer
    original = consumer.process_batch
    marks: dict[str, float] = {}

    async def timed(batch):  # noqa: ANN001, ANN202
        marks.setdefault("first", time.perf_counter())
        marks.setdefault("first_cpu", time.process_time())
        await original(batch)
        marks["last"] = time.perf_counter()
        marks["last_cpu"] = time.process_time()

    consumer.process_batch = timed  # instance attribute: run() looks it up on each batch
    phases_before = dict(consumer.phase_seconds)
    batches_before = consumer.stats["batches"]

    def done() -> bool:
        s = consumer.stats
        return s["processed"] + s["duplicates"] + s["dead_lettered"] >= count

    finished = await wait_until(done, deadline_s)
    consumer.process_batch = original
    s = dict(consumer.stats)
    if not finished:
        result.notes.append(f"pipeline: only {s['processed']} of {count} events within {deadline_s:.0f} s")
    elapsed = marks.get("last", 0) - marks.get("first", 0)
    handled = s["processed"] + s["duplicates"] + s["dead_lettered"]
    result.figures["pipeline_rate"] = handled / elapsed if elapsed > 0 else float("nan")
    result.figures["pipeline_seconds"] = elapsed
    # CPU of this process (service + driver) over the same span: near 1.0 means one
    # core's worth of Python is the limit; well below, the service waits on the database or broker.
    result.figures["pipeline_cpu_share"] = (marks.get("last_cpu", 0) - marks.get("first_cpu", 0)) / elapsed \
        if elapsed > 0 else float("nan")
    result.figures["pipeline_stats"] = s
    # Where a batch's time goes: the consumer's phases (and the service's own within
    # `handle`), summed over the phase's batches, per batch in ms.
    batches = max(1, s["batches"] - batches_before)
    result.figures["pipeline_batch_ms"] = {
        phase: (seconds - phases_before.get(phase, 0.0)) * 1000 / batches
        for phase, seconds in consumer.phase_seconds.items()}
    result.figures["pipeline_batch_size"] = handled / batches
    if s["dead_lettered"] or s["duplicates"]:
        result.notes.append(f"pipeline: {s['dead_lettered']} dead-lettered, {s['duplicates']} duplicates")


@contextlib.asynccontextmanager
async def mail_sender_process(settings, ready_timeout: float = 60):
    """`dankjewel background appreciation` on the benchmark's servers, until the block ends."""
    import os
    import tempfile

    env = {k: v for k, v in os.environ.items() if k not in ("RULES_FILE",)} | {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers, "DATABASE_URL": settings.database_url,
        "KAFKA_GROUP_PREFIX": settings.kafka_group_prefix, "SMTP_HOST": settings.smtp_host,
        "SMTP_PORT": str(settings.smtp_port), "MAIL_RETRY_SECONDS": "1", "MAIL_RETRY_MAX_SECONDS": "5",
        "MAIL_CONNECTIONS": str(settings.mail_connections),  # woken by NOTIFY, polling as shipped
        "UNSUBSCRIBE_SECRET": settings.unsubscribe_secret.get_secret_value()}
    with tempfile.NamedTemporaryFile("w+", prefix="bench-mail-sender-", suffix=".log") as log_file:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "dankjewel"), "background", "appreciation", env=env,
            stdout=log_file, stderr=log_file, cwd=Path(__file__).parent.parent)
        try:
            if not await wait_until(lambda: "background loops of appreciation running" in Path(log_file.name).read_text()
                                    or process.returncode is not None, ready_timeout, 0.1) \
                    or process.returncode is not None:
                raise RuntimeError(f"mail sender process did not start: {Path(log_file.name).read_text()[-500:]}")
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 20)
                except asyncio.TimeoutError:
                    process.kill()


async def latency_phase(settings, smtp: TimingSmtp, volunteer_ids: list[str], rate: float, ended_at: datetime,
                        result: Results, key: str = "latency", publisher_module: str = "bench.publisher") -> None:
    """The load comes from its own process (bench/publisher.py) and the mail goes to
    another (bench/smtp_sink.py): this process holds only the service under test."""
    published: dict[str, float] = {}
    cpu_start, start = time.process_time(), time.perf_counter()
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-m", publisher_module, settings.kafka_bootstrap_servers, str(rate), ended_at.isoformat(),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parent.parent)
    publisher.stdin.write("\n".join(volunteer_ids).encode())
    publisher.stdin.close()
    try:
        async for line in publisher.stdout:
            name, value = line.decode().split()
            if name == "offered":
                result.figures[f"{key}_offered_rate"] = float(value)
            else:
                published[f"{name}@example.org"] = float(value)
        if await publisher.wait() != 0:
            raise RuntimeError(f"bench publisher exited with {publisher.returncode}")
    finally:
        if publisher.returncode is None:
            publisher.kill()
    # Wait for the mails: while they keep coming (a saturated service drains a backlog),
    # but at most DRAIN_LIMIT seconds, and not longer than STALL seconds without a new one.
    last_count, last_change, deadline = -1, time.perf_counter(), time.perf_counter() + DRAIN_LIMIT
    while time.perf_counter() < deadline:
        count = sum(1 for address in published if address in smtp.received)
        if count == len(published):
            break
        if count != last_count:
            last_count, last_change = count, time.perf_counter()
        elif time.perf_counter() - last_change > STALL:
            break
        await asyncio.sleep(0.05)
    result.figures[f"{key}_cpu_share"] = (time.process_time() - cpu_start) / (time.perf_counter() - start)
    latencies = sorted((smtp.received[a] - t) * 1000 for a, t in published.items() if a in smtp.received)
    result.figures[f"{key}_ms"] = {p: percentile(latencies, p) for p in (50, 99, 99.9)}
    result.figures[f"{key}_max_ms"] = latencies[-1] if latencies else float("nan")
    result.figures[f"{key}_delivered"] = (len(latencies), len(published))
    if len(latencies) < len(published):
        result.notes.append(f"{key}: {len(published) - len(latencies)} of {len(published)} mails not handed "
                            f"off (waited up to {DRAIN_LIMIT:.0f} s, {STALL:.0f} s without progress)")


def sweep_population(rules, today: date, count: int, seed: int = 1):
    """Volunteers who started on a day in the last 15 years (uniformly); next_sweep_on
    is what yesterday's sweep left (the next reminder or anniversary after yesterday),
    so only those whose reminder or anniversary falls today are due."""
    from services.appreciation import domain

    rng = random.Random(seed)
    yesterday = today - timedelta(days=1)
    cache: dict[date, date | None] = {}
    due: list[tuple[str, date]] = []

    def rows():
        for i in range(count):
            started_on = today - timedelta(days=rng.randrange(15 * 365))
            if started_on not in cache:
                cache[started_on] = domain.next_relevant_date(rules, started_on, after=yesterday)
            next_sweep_on = cache[started_on]
            volunteer_id = f"sw-{i:07d}"
            if next_sweep_on is not None and next_sweep_on <= today:
                due.append((volunteer_id, next_sweep_on))
            yield registered(volunteer_id, started_on, next_sweep_on)

    return rows(), due


async def sweep_phase(settings, options: Options, sampler: RssSampler, result: Results) -> None:
    from services.appreciation import domain
    from services.appreciation.rules import rules_for
    from services.appreciation.service import definition
    from shared.service import ServiceRuntime

    as_of = datetime.now(timezone.utc)
    today = domain.local_date(as_of, settings.timezone)
    rows, due = sweep_population(rules_for(settings), today, options.volunteers)
    say(f"sweep: copying {options.volunteers:,} volunteers into appreciation_volunteers")
    started = time.perf_counter()
    await copy_volunteers(settings.database_url, rows)
    result.figures["sweep_load_seconds"] = time.perf_counter() - started
    result.figures["sweep_due"] = len(due)

    runtime = ServiceRuntime(definition, settings)
    await runtime.start(consume=False, scheduled_sweeps=False)  # relay only: no consumer, no mail sender
    try:
        say(f"sweep: {len(due):,} of {options.volunteers:,} volunteers due; sweeping")
        sampler.open("sweep")
        started = time.perf_counter()
        raised = await asyncio.wait_for(runtime.sweep(as_of), 240)
        result.figures["sweep_seconds"] = time.perf_counter() - started
        sampler.close("sweep")
        result.figures["sweep_raised"] = raised
        result.figures["sweep_rss_delta"] = sampler.peaks["sweep"] - sampler.starts["sweep"]

        # The same sweep again, from the same state, under tracemalloc (which slows it down).
        await sql(settings.database_url, "DELETE FROM appreciation_ledger WHERE volunteer_id LIKE 'sw-%'")
        await sql(settings.database_url, "DELETE FROM appreciation_mails WHERE volunteer_id LIKE 'sw-%'")
        await sql(settings.database_url,
                  "UPDATE appreciation_volunteers v SET next_sweep_on = d.n "
                  "FROM unnest($1::text[], $2::date[]) AS d(id, n) WHERE v.volunteer_id = d.id",
                  [v for v, _ in due], [n for _, n in due])
        tracemalloc.start()
        started = time.perf_counter()
        again = await asyncio.wait_for(runtime.sweep(as_of), 300)
        result.figures["sweep_traced_seconds"] = time.perf_counter() - started
        result.figures["sweep_traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if again != raised:
            result.notes.append(f"sweep: the repeated sweep raised {again}, the first {raised}")
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        await runtime.stop()


async def peer_phase(settings, smtp: TimingSmtp, options: Options, own_broker: bool, ended_at: datetime,
                     result: Results) -> None:
    """Phase 7: the peer in this process, on the same broker, database and SMTP sink,
    its own topic and tables: throughput over a backlog already on the topic (timed
    like phase 2, from the start of its first handler call to the end of its last),
    then publish -> SMTP latency at phase 3's rate with phase 3's publisher."""
    import uuid

    from bench import peer

    run_id = uuid.uuid4().hex[:6]
    backlog_ids = [f"prt-{run_id}-{i:06d}" for i in range(options.peer_events)]
    latency_ids = [f"prl-{run_id}-{i:06d}" for i in range(max(1, int(options.rate * options.latency_seconds)))]
    await peer.reset_tables(settings.database_url, [registered(v, ended_at.date(), None)[:3]
                                                    for v in backlog_ids + latency_ids])
    group_id = f"{settings.kafka_group_prefix}-peer"
    await peer.prepare_topic(settings, group_id, partitions=1 if own_broker else 3)
    say(f"peer: producing {len(backlog_ids):,} events to {peer.TOPIC}[0]")
    _, produced = await produce_backlog(settings, backlog_ids, ended_at, topic=peer.TOPIC)

    app = peer.create_peer(settings.kafka_bootstrap_servers, settings.database_url, settings.smtp_host,
                           settings.smtp_port, group_id)
    stats = app.stats
    await app.start()
    try:
        say(f"peer: consuming {produced:,} events")
        if not await wait_until(lambda: stats.applied + stats.duplicates + stats.failed >= produced,
                                max(60.0, options.timeout / 4), 0.05):
            result.notes.append(f"peer: only {stats.applied} of {produced} events within the phase's limit")
        elapsed = stats.last_end - stats.first_start
        result.figures["peer_rate"] = stats.applied / elapsed if elapsed > 0 else float("nan")
        result.figures["peer_seconds"] = elapsed
        result.figures["peer_handled"] = stats.applied
        result.figures["peer_db_ms"] = stats.db_seconds * 1000 / max(stats.applied, 1)
        result.figures["peer_smtp_ms"] = stats.smtp_seconds * 1000 / max(stats.mailed, 1)

        say(f"peer latency: {len(latency_ids):,} first shifts at {options.rate:g}/s")
        await latency_phase(settings, smtp, latency_ids, options.rate, ended_at, result, key="peer_latency",
                            publisher_module="bench.peer")
    finally:
        await app.stop()
    if stats.failed or stats.duplicates:
        result.notes.append(f"peer: {stats.failed} handler failures, {stats.duplicates} duplicates")


async def benchmark(options: Options, servers: Servers, result: Results) -> None:
    import uuid

    from sqlalchemy import text

    from services.appreciation.service import definition
    from shared.db import create_engine, migrate
    from shared.service import ServiceRuntime
    from services.settings import load_settings

    sampler = RssSampler().start()
    smtp = TimingSmtp()
    smtp.start()
    runtime = None
    profiler = None
    try:
        group_prefix = f"bench-{uuid.uuid4().hex[:8]}"
        settings = load_settings(kafka_bootstrap_servers=servers.kafka_bootstrap, database_url=servers.database_url,
                                 kafka_group_prefix=group_prefix, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                 mail_retry_seconds=1.0, mail_retry_max_seconds=5.0, rules_file=None,
                                 mail_connections=options.mail_connections,
                                 unsubscribe_secret=os.environ.get("UNSUBSCRIBE_SECRET") or secrets.token_urlsafe(32))
        if not settings.database_url.startswith("postgresql"):
            raise RuntimeError("the benchmark runs on PostgreSQL; DATABASE_URL points elsewhere")
        await reset_database(settings.database_url)
        await prepare_topics(settings, servers.own_kafka, f"{group_prefix}-{definition.name}")

        run_id = uuid.uuid4().hex[:6]
        throughput_ids = [f"thr-{run_id}-{i:07d}" for i in range(options.events)]
        latency_count = max(1, int(options.rate * options.latency_seconds))
        latency_ids = [f"lat-{run_id}-{i:06d}" for i in range(latency_count)]
        split_ids = [f"spl-{run_id}-{i:06d}" for i in range(latency_count)]
        now = datetime.now(timezone.utc)
        ended_at = now - timedelta(hours=1)  # fresh: inside the grace window, so each first shift is mailed

        # Migrate, then register every volunteer of phases 2 and 3 (a first shift of
        # a registered volunteer: milestone, outbox event, mail).
        engine = create_engine(settings.database_url)
        await migrate(engine, definition.name, definition.migrations_dir)
        await engine.dispose()
        started_on = (now - timedelta(days=40)).date()
        next_sweep = started_on + timedelta(days=358)
        await copy_volunteers(settings.database_url,
                              (registered(v, started_on, next_sweep) for v in throughput_ids + latency_ids + split_ids))

        say(f"producing {options.events:,} events to shifts.completed[0]")
        first_offset, produced = await produce_backlog(settings, throughput_ids, ended_at)

        say("raw aiokafka consume rate (best of 3)")
        rates = [await raw_consume_rate(settings, first_offset, produced) for _ in range(3)]
        result.figures["raw_rate"] = max(rates)
        result.figures["raw_rates"] = rates

        # Phase 2: the service consumes the backlog; the mail sender is held back
        # (clock lag) so that the figure is the consumer path the target names.
        clock = HeldClock()
        clock.lag = timedelta(hours=6)
        runtime = ServiceRuntime(definition, settings, clock=clock)
        sampler.open("service")
        result.figures["rss_before_service"] = rss_bytes()
        if options.profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled", interval=0.001)
            profiler.start()
        await runtime.start(scheduled_sweeps=False)
        say(f"pipeline: consuming {produced:,} events")
        await pipeline_phase(runtime, produced, max(60.0, options.timeout / 2), result)

        # Phase 3: phase 2's mails are set aside (not part of phase 3), and the service
        # starts again, as `dankjewel run appreciation` serves after a start: the
        # runtime settles the heap at start-up (shared.service.settle_heap), and a
        # runtime left running from phase 2 would carry phase 2's and this benchmark's
        # objects into every full garbage collection (docs/benchmarks.md).
        async with runtime.sessions() as session, session.begin():
            await session.execute(text("UPDATE appreciation_mails SET status = 'skipped', "
                                       "last_error = 'bench: throughput phase' WHERE volunteer_id LIKE 'thr-%'"))
        pipeline_stats = dict(runtime.consumer.stats)
        await runtime.stop()
        runtime = ServiceRuntime(definition, settings)
        await runtime.start(scheduled_sweeps=False)
        # A new consumer first joins the group: load sent before that would measure the join.
        if not await wait_until(lambda: bool(runtime.consumer.consumer.assignment()), 60, 0.1):
            result.notes.append("latency (3): the consumer got no partition within 60 s")
        say(f"latency: {latency_count:,} first shifts at {options.rate:g}/s")
        await latency_phase(settings, smtp, latency_ids, options.rate, ended_at, result)
        result.figures["latency_stats"] = dict(runtime.consumer.stats)
        result.figures["mail_stats"] = {"sessions": runtime.metrics.smtp_sessions(),
                                        **{outcome: runtime.metrics.mail_count(outcome)
                                           for outcome in ("sent", "retried", "failed", "skipped")}}
        if profiler is not None:
            profiler.stop()
            with open(options.profile, "w") as out:
                out.write(profiler.output_text(unicode=True, color=False, show_all=False))
            say(f"profile written to {options.profile}")
            profiler = None
        sampler.close("service")
        result.figures["rss_peak_service"] = sampler.peaks["service"]
        result.figures["consumer_stats"] = {k: pipeline_stats[k] + runtime.consumer.stats[k] for k in pipeline_stats}
        await runtime.stop()
        runtime = None

        # Phase 3b: the same load with the mail sender in a process of its own
        # (`dankjewel run appreciation --no-background` + `dankjewel background appreciation`).
        say(f"latency, mail sender in its own process: {latency_count:,} first shifts at {options.rate:g}/s")
        runtime = ServiceRuntime(definition, settings)
        await runtime.start(background=False, scheduled_sweeps=False)
        # A new consumer first joins the group: load sent before that would measure the join.
        if not await wait_until(lambda: bool(runtime.consumer.consumer.assignment()), 60, 0.1):
            result.notes.append("latency (3b): the consumer got no partition within 60 s")
        async with mail_sender_process(settings):
            await latency_phase(settings, smtp, split_ids, options.rate, ended_at, result, key="split")
        await runtime.stop()
        runtime = None

        # Phase 4: the sweep.
        await sweep_phase(settings, options, sampler, result)
        result.figures["max_rss"] = max_rss_bytes()

        # Phase 6: the coordinators' Today page at 10,000 volunteers and 1,000 open alerts.
        from bench.console_page import console_phase

        await console_phase(settings, result, say)

        # Phase 7: the peer, on the same servers and SMTP sink.
        await peer_phase(settings, smtp, options, servers.own_kafka, ended_at, result)

        # Phase 8: 1 and 2 consumer processes on 4 partitions; phase 9: the CSV import.
        from bench.import_speed import import_phase
        from bench.scaling import scaling_phase

        await scaling_phase(settings, options.scaling_events, ended_at, result, say)
        await import_phase(settings, options.import_rows, now, result, say)
    finally:
        if profiler is not None:
            with contextlib.suppress(Exception):
                profiler.stop()
        if runtime is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runtime.stop(), 30)
        smtp.stop()
        sampler.stop()


# --------------------------------------------------------------------------- table


def latency_rows(f: dict, key: str, label: str, cpu_of: str) -> list[Row]:
    nan = float("nan")
    latency = f.get(f"{key}_ms", {})
    delivered, expected = f.get(f"{key}_delivered", (0, 0))
    return [
        Row(f"{label} p50", latency.get(50, nan), "ms",
            note=f"{delivered:,}/{expected:,} mails at {f.get(f'{key}_offered_rate', nan):.1f}/s"),
        Row(f"{label} p99", latency.get(99, nan), "ms", at_most=250,
            note=f"CPU of the {cpu_of}: {f.get(f'{key}_cpu_share', nan):.0%} of one core"),
        Row(f"{label} p99.9", latency.get(99.9, nan), "ms", note=f"max {f.get(f'{key}_max_ms', nan):,.0f} ms"),
    ]


def build_rows(options: Options, result: Results) -> list[Row]:
    from bench.import_speed import import_rows
    from bench.scaling import scaling_rows

    f = result.figures
    nan = float("nan")
    raw = f.get("raw_rate", nan)
    rate = f.get("pipeline_rate", nan)
    pipeline = f.get("pipeline_stats") or {}
    consumer = f.get("consumer_stats") or {}
    mail = f.get("mail_stats") or {}
    processed = consumer.get("processed", 0)
    mb = lambda v: v / MB if v is not None else nan  # noqa: E731
    ratio = lambda a, b: a / b if b else nan  # noqa: E731
    return [
        Row("1 raw aiokafka consume (getmany, 1 partition)", raw, "events/s",
            note=f"best of 3: {', '.join(f'{r:,.0f}' for r in f.get('raw_rates', []))}"),
        Row("2 pipeline throughput (1 partition)", rate, "events/s", at_least=5000,
            note=f"{pipeline.get('processed', 0):,} events in {f.get('pipeline_seconds', nan):.2f} s; "
                 f"process CPU {f.get('pipeline_cpu_share', nan):.0%} of one core"),
        Row("2 pipeline / raw consume", ratio(rate, raw), "x", at_least=0.25),
        *batch_rows(f),
        *latency_rows(f, "latency", "3 publish->SMTP latency", "service process (consumer + mail sender)"),
        *latency_rows(f, "split", "3b ... mail sender apart,", "consumer process; mail sender in its own"),
        Row("4 anniversary sweep time", f.get("sweep_seconds", nan), "s", at_most=5,
            note=f"{options.volunteers:,} volunteers, {f.get('sweep_due', 0):,} due, "
                 f"{f.get('sweep_raised', 0):,} raised"),
        Row("4 sweep peak memory (tracemalloc)", mb(f.get("sweep_traced_peak")), "MB", at_most=300,
            note=f"traced run {f.get('sweep_traced_seconds', nan):.2f} s"),
        Row("4 sweep RSS delta", mb(f.get("sweep_rss_delta")), "MB", at_most=300),
        Row("5 peak RSS of service process under load", mb(f.get("rss_peak_service")), "MB",
            note=f"{mb(f.get('rss_before_service')):.0f} MB before start; incl. the bench driver"),
        Row("5 offset commits per 1,000 events", ratio(consumer.get("commits", 0) * 1000, processed), "",
            note=f"{consumer.get('commits', 0):,} commits, {processed:,} events"),
        Row("5 offset commits per batch", ratio(consumer.get("commits", 0), consumer.get("batches", 0)), "",
            at_most=1, note=f"{consumer.get('batches', 0):,} batches"),
        Row("5 mails per SMTP session", ratio(mail.get("sent", 0), mail.get("sessions", 0)), "",
            note=f"{mail.get('sent', 0):,} sent in {mail.get('sessions', 0):,} sessions"),
        Row("6 console Today page p50", f.get("console_today_ms", {}).get(50, nan), "ms",
            note="10,000 volunteers, 1,000 open alerts, signed in, through the ASGI app"),
        Row("6 console Today page p95", f.get("console_today_ms", {}).get(95, nan), "ms", at_most=200,
            note=f"{f.get('console_today_bytes', 0) / 1024:.0f} KiB of HTML"),
        *peer_rows(options, f),
        *scaling_rows(options.scaling_events, f),
        *import_rows(options.import_rows, f),
    ]


# The consumer's phases in the order a batch goes through them; a service's own
# phases (inside "handle") follow in the order they appear.
BATCH_PHASES = ("parse", "inbox", "handle", "write", "commit")


def batch_rows(f: dict) -> list[Row]:
    """Phase 2's per-batch breakdown: ms per batch in each phase, and its share."""
    spent = f.get("pipeline_batch_ms") or {}
    if not spent:
        return []
    total = sum(spent.get(phase, 0.0) for phase in BATCH_PHASES)
    own = [phase for phase in spent if phase not in BATCH_PHASES]
    rows = []
    for phase in (*BATCH_PHASES, *own):
        label = f"2 per batch: {phase}" if phase in BATCH_PHASES else f"2 per batch:   handle/{phase}"
        rows.append(Row(label, spent.get(phase, 0.0), "ms", note=f"{spent.get(phase, 0.0) / total:.0%} of the "
                        f"batch ({f.get('pipeline_batch_size', 0):.0f} events per batch)" if total else ""))
    return rows


def peer_rows(options: Options, f: dict) -> list[Row]:
    nan = float("nan")
    ratio = lambda a, b: a / b if b else nan  # noqa: E731
    peer_rate = f.get("peer_rate", nan)
    peer_latency = f.get("peer_latency_ms", {})
    delivered, expected = f.get("peer_latency_delivered", (0, 0))
    return [
        Row("7 peer throughput (faststream + ORM, 1 partition)", peer_rate, "events/s",
            note=f"{f.get('peer_handled', 0):,} events in {f.get('peer_seconds', nan):.2f} s, each committed "
                 f"and mailed (per event: {f.get('peer_db_ms', nan):.1f} ms ORM transaction, "
                 f"{f.get('peer_smtp_ms', nan):.1f} ms aiosmtplib.send)"),
        Row("7 dankjewel / peer throughput", ratio(f.get("pipeline_rate", nan), peer_rate), "x",
            note=f"phase 2 ({options.events:,} events, mail sender held back) over the peer "
                 f"({options.peer_events:,} events, mail sent in the handler)"),
        Row("7 peer publish->SMTP latency p50", peer_latency.get(50, nan), "ms",
            note=f"{delivered:,}/{expected:,} mails at {f.get('peer_latency_offered_rate', nan):.1f}/s"),
        Row("7 peer publish->SMTP latency p99", peer_latency.get(99, nan), "ms",
            note=f"max {f.get('peer_latency_max_ms', nan):,.0f} ms; CPU of the benchmark process (the peer): "
                 f"{f.get('peer_latency_cpu_share', nan):.0%} of one core"),
        Row("7 dankjewel / peer p99 latency", ratio(f.get("latency_ms", {}).get(99, nan), peer_latency.get(99, nan)),
            "x", note="phase 3 (consumer and mail sender in one process) over the peer; below 1: dankjewel faster"),
    ]


# --------------------------------------------------------------------------- entry


def parse(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes for CI (2000 events, 20000 volunteers, "
                                                             "latency for 5 s)")
    parser.add_argument("--events", type=int, help="events for the throughput phase (default 20000)")
    parser.add_argument("--volunteers", type=int, help="volunteers for the sweep (default 1000000)")
    parser.add_argument("--latency-seconds", type=float, help="length of the latency phase (default 30)")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s of the latency phase (default 100)")
    parser.add_argument("--mail-connections", type=int, default=Options.mail_connections,
                        help=f"MAIL_CONNECTIONS of the measured mail sender (default: the service's, "
                             f"{Options.mail_connections})")
    parser.add_argument("--timeout", type=float, help="overall limit in seconds (default 560; quick 300)")
    parser.add_argument("--kafka-port", type=int, default=28192, help="port of our own broker (default 28192)")
    parser.add_argument("--pg-port", type=int, default=24433, help="port of our own PostgreSQL (default 24433)")
    parser.add_argument("--profile", metavar="FILE", help="profile phases 2-3 with pyinstrument into FILE")
    parser.add_argument("--peer-events", type=int, help="events for the peer's throughput (default 2000; quick 500)")
    parser.add_argument("--scaling-events", type=int, help="events per run of phase 8 (default 20000; quick 2000)")
    parser.add_argument("--import-rows", type=int, help="rows of phase 9's CSV (default 1000000; quick 20000)")
    args = parser.parse_args(argv)
    options = Options(quick=args.quick, rate=args.rate, kafka_port=args.kafka_port, pg_port=args.pg_port,
                      profile=args.profile, mail_connections=args.mail_connections)
    if args.quick:
        options.events, options.volunteers, options.latency_seconds, options.timeout = 2000, 20_000, 5.0, 300.0
        options.peer_events, options.scaling_events, options.import_rows = 500, 2000, 20_000
    for name in ("events", "volunteers", "latency_seconds", "timeout", "peer_events", "scaling_events", "import_rows"):
        if getattr(args, name) is not None:
            setattr(options, name, getattr(args, name))
    if options.scaling_events < 1 or options.import_rows < 1:
        parser.error("sizes must be positive")
    if options.events < 1 or options.peer_events < 1 or options.volunteers < 1 or options.latency_seconds <= 0 or options.rate <= 0:
        parser.error("sizes must be positive")
    if not 1 <= options.mail_connections <= 8:
        parser.error("--mail-connections must be between 1 and 8 (as MAIL_CONNECTIONS)")
    return options


def _terminate(signum, frame):  # noqa: ANN001
    raise KeyboardInterrupt(f"signal {signum}")


def cli(argv: list[str] | None = None) -> int:
    options = parse(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    result = Results()
    servers = Servers(options.kafka_port, options.pg_port)
    started = time.perf_counter()
    failure = None
    try:
        servers.start()
        remaining = options.timeout - (time.perf_counter() - started)
        asyncio.run(asyncio.wait_for(benchmark(options, servers, result), remaining))
    except (Exception, KeyboardInterrupt) as error:  # the table is printed with what was measured
        failure = error
        if isinstance(error, (asyncio.TimeoutError, TimeoutError)):
            result.notes.append(f"overall timeout of {options.timeout:.0f} s reached")
        else:
            result.notes.append(f"aborted: {type(error).__name__}: {error}")
            logging.getLogger("bench").exception("benchmark failed")
    finally:
        say("stopping servers")
        servers.stop()
    rows = build_rows(options, result)
    print(render_table(rows, options, time.perf_counter() - started, servers, result.notes), flush=True)
    return 1 if failure is not None else 0
