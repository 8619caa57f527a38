"""`dankjewel dlq list|replay` on the real broker: dead letters are listed without their
content, and replayed exactly as first published; after a fix they are consumed, a
second replay has no second effect, and a record still refused is dead-lettered again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from typer.testing import CliRunner

from services import cli
from services.appreciation.service import definition as appreciation
from services.appreciation.tables import ledger
from shared.contracts import SHIFT_COMPLETED
from shared.envelope import BadRecord
from tests.integration.conftest import eventually, read_topic, structured


def shift_data(volunteer_id: str) -> dict:
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    return {"shift_id": str(uuid.uuid4()), "volunteer_id": volunteer_id,
            "started_at": (end - timedelta(hours=3)).isoformat(), "ended_at": end.isoformat()}


async def ledger_rows(runtime, volunteer_id: str) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(ledger)
                                    .where(ledger.c.volunteer_id == volunteer_id))


async def dankjewel(*arguments: str):
    # In a thread: the command runs its own event loop (asyncio.run).
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, list(arguments))
    assert result.exit_code == 0, result.output
    return result


async def test_dead_letters_are_listed_without_content_and_replayed_as_they_were(
        start_service, producer, infra, settings, monkeypatch):
    monkeypatch.setattr(cli, "_settings", lambda: settings)
    runtime = await start_service(appreciation)
    since = datetime.now(timezone.utc).isoformat()
    run = uuid.uuid4().hex[:8]
    broken, fixable, good = f"v-broken-{run}", f"v-fixable-{run}", f"v-good-{run}"

    # A service bug refuses `fixable`'s (valid) shift until it is "fixed" below: in the
    # service's batch handler, or its handler of the event type, whichever it has (a
    # refused batch is applied again one event at a time, so only that event is refused).
    consumer = runtime.consumer
    batch_handler, count_shift = consumer.handle_batch, consumer.handlers[SHIFT_COMPLETED.type]

    async def refuse_fixable(unit, events):
        if any(event.volunteer_id == fixable for event in events):
            raise BadRecord("roster not loaded yet")
        if batch_handler is not None:
            return await batch_handler(unit, events)
        for event in events:
            await count_shift(unit, event)

    def fix() -> None:
        consumer.handle_batch, consumer.handlers[SHIFT_COMPLETED.type] = batch_handler, count_shift

    if batch_handler is not None:
        consumer.handle_batch = refuse_fixable
    else:
        consumer.handlers[SHIFT_COMPLETED.type] = lambda unit, event: refuse_fixable(unit, [event])
    missing_field = shift_data(broken)
    del missing_field["ended_at"]
    sent = {}
    for volunteer, (value, headers) in [(broken, structured(SHIFT_COMPLETED.type, missing_field)),
                                        (fixable, structured(SHIFT_COMPLETED.type, shift_data(fixable))),
                                        (good, structured(SHIFT_COMPLETED.type, shift_data(good)))]:
        headers = headers + [("x-roster-batch", run.encode())]
        metadata = await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(),
                                                headers=headers)
        sent[volunteer] = (value, headers, f"shifts.completed[{metadata.partition}]@{metadata.offset}")
    await eventually(lambda: ledger_rows(runtime, good))
    for volunteer in (broken, fixable):
        await read_topic(infra.kafka_bootstrap, "shifts.completed.dlq", volunteer.encode(), settle=0)

    listed = (await dankjewel("dlq", "list", "shifts.completed.dlq", "--since", since)).output
    lines = listed.splitlines()
    broken_line = next(line for line in lines if sent[broken][2] in line)
    assert "appreciation" in broken_line
    assert "invalid data for dankjewel.shift.completed.v1: ended_at: Field required" in broken_line
    assert "roster not loaded yet" in next(line for line in lines if sent[fixable][2] in line)
    assert "2 dead letters:" in lines
    assert "       1  roster not loaded yet" in lines
    assert run not in listed  # neither the keys, nor the values, nor the original headers
    assert missing_field["started_at"][:19] not in listed
    limited = (await dankjewel("dlq", "list", "shifts.completed", "--since", since, "--limit", "1")).output
    assert "… and 1 more" in limited and "2 dead letters:" in limited

    fix()
    dry = (await dankjewel("dlq", "replay", "shifts.completed", "--since", since, "--dry-run")).output
    assert dry.splitlines()[-1] == "2 would be replayed to shifts.completed, 0 skipped (dry run)"
    replayed = await dankjewel("dlq", "replay", "shifts.completed", "--since", since, "--service", "appreciation")
    assert replayed.stdout.splitlines()[-1] == "2 replayed to shifts.completed, 0 skipped"

    await eventually(lambda: ledger_rows(runtime, fixable))  # consumed after the fix
    for volunteer in (broken, fixable):  # exactly one more record each: the dry run published nothing
        records = await read_topic(infra.kafka_bootstrap, "shifts.completed", volunteer.encode(), expect=2, settle=1)
        assert len(records) == 2
        value, headers, _ = sent[volunteer]
        assert [(r.value, list(r.headers)) for r in records] == [(value, headers)] * 2  # no dlq-* headers
    dead = await read_topic(infra.kafka_bootstrap, "shifts.completed.dlq", broken.encode(), expect=2, settle=1)
    assert len(dead) == 2  # refused again, for the same reason; nothing loops
    assert dict(dead[0].headers)["dlq-reason"] == dict(dead[1].headers)["dlq-reason"]

    # Again: the fixed event is a duplicate for the inbox, and the broken record
    # (now twice on the dead-letter topic) goes back once.
    duplicates = runtime.consumer.stats["duplicates"]
    again = await dankjewel("dlq", "replay", "shifts.completed.dlq", "--since", since, "--progress")
    assert again.stdout.splitlines()[-1] == "2 replayed to shifts.completed, 1 skipped"
    assert "replaying to shifts.completed" in again.stderr and "2/2" in again.stderr  # the bar, asked for
    assert "replaying to" not in replayed.stderr  # not asked for, and no terminal: no bar
    assert "skipped: the same record was replayed already in this run" in again.stderr
    await eventually(lambda: runtime.consumer.stats["duplicates"] > duplicates or None)
    assert await ledger_rows(runtime, fixable) == 1
    assert await ledger_rows(runtime, good) == 1
