"""`python -m faults [--events N] [--scenarios a,b] [--malformed N]`: one row per scenario.

Pass means: 0 lost, 0 duplicate mails, 0 duplicate ledger entries, 0 crashed
consumers, and every malformed record on a dead-letter topic. A mail sent again
because its sender was killed between the server's acceptance and the sender's
record of it is counted apart ("re-sent at kill", see faults/tally.py)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from faults.malformed import malformed_records
from faults.mix import Mix, build_mix, out_of_order, triple_from_two_sources
from faults.stack import SERVICES, Stack
from faults.tally import count_repeats
from services.appreciation import messages
from services.appreciation.tables import ledger
from shared.contracts import CATALOGUE, dlq_topic

SCENARIOS = ("kill-9", "broker-restart", "smtp-outage", "database-outage", "duplicates", "out-of-order", "malformed")


@dataclass
class Row:
    scenario: str
    events: int
    expected: int
    observed: int
    lost: int
    resent_after_kill: int
    duplicate_mails: int
    duplicate_ledger: int
    dead_lettered: int
    bad_records: int
    crashed: int
    recovery_s: float

    @property
    def passed(self) -> bool:
        return (self.lost == 0 and self.duplicate_mails == 0 and self.duplicate_ledger == 0 and self.crashed == 0
                and self.dead_lettered == self.bad_records)


async def publish(stack: Stack, records) -> None:  # noqa: ANN001
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", linger_ms=5,
                                max_request_size=2_000_000)
    await producer.start()
    try:
        for start in range(0, len(records), 500):
            futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers)
                       for r in records[start:start + 500]]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def expected_ids(mix: Mix) -> set[str]:
    return {messages.message_id(email.split("@")[0], milestone, notification)
            for email, notification, milestone in mix.expected}


async def wait_for_mails(stack: Stack, wanted: set[str], timeout: float) -> float | None:
    """Seconds until every wanted Message-ID arrived (then 3 s more for stragglers), or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if wanted <= {m["Message-ID"] for m in list(stack.smtp.messages)}:
            elapsed = time.monotonic() - started
            await asyncio.sleep(3)
            return elapsed
        await asyncio.sleep(0.5)
    return None


async def wait_for_consumers(stack: Stack, timeout: float) -> bool:
    """True once every service's consumer group has committed up to the end of every
    topic it reads: the mails may all be there while another service is still
    working through its backlog (and has not yet dead-lettered its bad records)."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from services.registry import all_services

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap)
    await admin.start()
    await probe.start()
    try:
        # The admin client's topic description, not the consumer's metadata cache (which
        # may not know a topic yet, and then hid a service's whole backlog from this check).
        running = {name: d for name, d in all_services().items() if name in SERVICES}  # the stack's, not every one
        topics = sorted({t.topic for d in running.values() for t in d.consumes})
        partitions = {t["topic"]: [p["partition"] for p in t["partitions"]] for t in await admin.describe_topics(topics)}
        reads = {f"{stack.group_prefix}-{name}": [TopicPartition(t.topic, p) for t in d.consumes
                                                  for p in sorted(partitions.get(t.topic, ()))]
                 for name, d in running.items()}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = 0
            for group, partitions in reads.items():
                committed = await admin.list_consumer_group_offsets(group)
                ends = await probe.end_offsets(partitions)
                behind += sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in partitions)
            if behind == 0:
                return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await probe.stop()
        await admin.close()


async def count_dead_letters(stack: Stack) -> Counter:
    """Reasons of the distinct bad records on the dead-letter topics (a record on a
    topic that three services consume is dead-lettered by each: counted once)."""
    topics = sorted({dlq_topic(t.topic) for t in CATALOGUE})
    seen: set[tuple[bytes, bytes, bytes]] = set()
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=stack.bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    reasons: Counter = Counter()
    try:
        idle = 0
        while idle < 4:
            batch = await consumer.getmany(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    headers = dict(record.headers)
                    original = tuple(headers.get(f"dlq-original-{part}", b"?") for part in ("topic", "partition", "offset"))
                    if original in seen:
                        continue
                    seen.add(original)
                    reasons[headers.get("dlq-reason", b"?").decode().split(":")[0][:40]] += 1
    finally:
        await consumer.stop()
    return reasons


async def explain_lost(stack: Stack, mix: Mix, lost: set[str]) -> None:
    """Print what the mail queue says about a few lost mails (for diagnosis)."""
    from services.appreciation.tables import mails

    examples = [(email, notification, milestone) for email, notification, milestone in sorted(mix.expected)
                if messages.message_id(email.split("@")[0], milestone, notification) in lost][:5]
    engine = create_async_engine(stack.database_url)
    async with engine.connect() as connection:
        for email, notification, milestone in examples:
            row = (await connection.execute(select(mails.c.status, mails.c.last_error, mails.c.attempts).where(
                mails.c.volunteer_id == email.split("@")[0], mails.c.occasion == milestone,
                mails.c.notification == notification))).first()
            print(f"  lost {notification} {milestone} for {email.split('@')[0]}: queue row {row}", flush=True)
    await engine.dispose()


async def ledger_duplicates(stack: Stack) -> int:
    engine = create_async_engine(stack.database_url)
    async with engine.connect() as connection:
        rows = await connection.scalar(select(func.count()).select_from(ledger))
        distinct = await connection.scalar(select(func.count()).select_from(
            select(ledger.c.volunteer_id, ledger.c.milestone).distinct().subquery()))
    await engine.dispose()
    return rows - distinct


async def run_scenario(stack: Stack, scenario: str, events: int, malformed: int, seed: int) -> tuple[Row, Counter]:
    await stack.reset(scenario)
    await stack.start_services()
    mix = build_mix(events, seed, run=f"{scenario}-{seed}")
    bad = []
    if scenario == "duplicates":
        mix = triple_from_two_sources(build_mix(events // 3, seed, run=f"{scenario}-{seed}"))
    elif scenario == "out-of-order":
        mix = out_of_order(mix, seed)
    elif scenario == "malformed":
        bad = malformed_records(malformed, seed)
    records = list(mix.records)
    if bad:  # spread the bad records through the stream
        step = max(1, len(records) // len(bad))
        for i, record in enumerate(bad):
            records.insert(i * (step + 1), record)
    half = len(records) // 2
    await publish(stack, records[:half])
    healed = await inject(stack, scenario, records[half:])
    wanted = expected_ids(mix)
    waited = await wait_for_mails(stack, wanted, timeout=max(120.0, len(records) / 20))
    recovery = (time.monotonic() - healed) if waited is not None else float("nan")
    received = [m["Message-ID"] for m in list(stack.smtp.messages)]
    observed = set(received) & wanted
    sender_killed = [at for service, at in stack.kills if service == "appreciation"]
    repeats = count_repeats(list(stack.smtp.arrivals), sender_killed, in_flight=stack.mails_in_flight)
    if repeats.offsets:
        print(f"[{scenario}] repeated mails; earlier copy, seconds from the nearest kill of the sender: "
              + ", ".join("no kill" if o is None else f"{o:+.3f}" for o in repeats.offsets), flush=True)
    if wanted - observed:
        await explain_lost(stack, mix, wanted - observed)
    if not await wait_for_consumers(stack, timeout=max(60.0, len(records) / 50)):
        print(f"[{scenario}] not every consumer caught up before the timeout", flush=True)
    crashed = stack.crashes_logged()
    await stack.stop_services()
    crashed += stack.unexpected_exits
    stack.unexpected_exits = 0
    reasons = await count_dead_letters(stack)
    row = Row(scenario, len(records), len(wanted), len(observed), len(wanted - observed),
              repeats.resent_after_kill, repeats.duplicates, await ledger_duplicates(stack), sum(reasons.values()), len(bad),
              crashed, round(recovery, 1))
    return row, reasons


async def inject(stack: Stack, scenario: str, rest) -> float:  # noqa: ANN001
    """Inject the scenario's fault while the second half of the stream goes in; returns when it healed."""
    if scenario == "kill-9":
        publishing = asyncio.create_task(publish(stack, rest))
        for service in SERVICES:  # each in the middle of its work
            await asyncio.sleep(1.0)
            stack.kill(service)
            await asyncio.sleep(1.0)
            stack.start_service(service)
        await publishing
        for service in SERVICES:
            await stack.wait_healthy(service)
    elif scenario == "broker-restart":
        if stack.kafka is None:
            raise SystemExit("broker-restart needs the local broker (unset KAFKA_BOOTSTRAP_SERVERS)")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(stack.kafka.stop)
        await asyncio.sleep(5)
        await asyncio.to_thread(stack.kafka.start)
        await publish(stack, rest)
    elif scenario == "smtp-outage":
        stack.smtp.stop()  # connections refused
        await publish(stack, rest)
        await asyncio.sleep(5)
        stack.smtp.temporary_failure = True
        stack.smtp.start()  # answers 451
        await asyncio.sleep(5)
        stack.smtp.temporary_failure = False
    elif scenario == "database-outage":
        await stack.db_proxy.cut()
        await publish(stack, rest)
        await asyncio.sleep(8)
        await stack.db_proxy.restore()
    else:
        await publish(stack, rest)
    return time.monotonic()


def print_table(rows: list[Row], reasons: dict[str, Counter]) -> None:
    header = ("scenario", "events in", "expected", "observed", "lost", "re-sent at kill", "dup mails",
              "dup ledger", "DLQ", "bad in", "crashed", "recover s", "result")
    lines = [header] + [(r.scenario, r.events, r.expected, r.observed, r.lost, r.resent_after_kill, r.duplicate_mails,
                         r.duplicate_ledger, r.dead_lettered, r.bad_records, r.crashed, r.recovery_s,
                         "PASS" if r.passed else "FAIL") for r in rows]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for n, line in enumerate(lines):
        print("  ".join(str(v).rjust(w) if n and i else str(v).ljust(w) for i, (v, w) in enumerate(zip(line, widths))))
    for scenario, counter in reasons.items():
        if counter:
            print(f"DLQ reasons in {scenario}: " + ", ".join(f"{k} ×{v}" for k, v in counter.most_common()))
    print(f"{sum(r.passed for r in rows)} passed, {sum(not r.passed for r in rows)} failed")


async def main(args: argparse.Namespace) -> int:
    log_dir = Path("var/faults")
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(log_dir)
    await stack.start()
    rows, reasons = [], {}
    try:
        for scenario in args.scenarios:
            started = time.monotonic()
            row, reasons[scenario] = await asyncio.wait_for(
                run_scenario(stack, scenario, args.events, args.malformed, args.seed), timeout=args.scenario_timeout)
            rows.append(row)
            print(f"[{scenario}] done in {time.monotonic() - started:.0f}s", flush=True)
        leaked = stack.personal_data_logged()
    finally:
        await stack.stop()
    print_table(rows, reasons)
    print(f"volunteer names or addresses found in service logs: {leaked}")
    return 0 if all(r.passed for r in rows) and leaked == 0 else 1


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="events per scenario (default 10000)")
    parser.add_argument("--malformed", type=int, default=200, help="fuzzed bad records in the malformed scenario")
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=list(SCENARIOS))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenario-timeout", type=float, default=900)
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse())))
