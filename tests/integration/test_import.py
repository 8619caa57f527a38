"""`dankjewel import`: a CSV export through real Kafka to the services; a file
imported twice gives each mail once."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import mails
from services.importer import publish_file
from tests.integration.conftest import equals, eventually


async def test_a_roster_imported_twice_thanks_each_volunteer_once(start_service, mail_settings, smtp_server,
                                                                 tmp_path):
    runtime = await start_service(appreciation, settings=mail_settings)
    run = uuid.uuid4().hex[:6]
    people = tmp_path / "vrijwilligers.csv"
    people.write_text("volunteer_id;name;email;language;registered_at\n"
                      f"anna-{run};Anna Bakker;anna.{run}@example.org;nl;2026-11-01\n"
                      f"joost-{run};Joost;joost-at-example.org;nl;2026-11-01\n"
                      f"lisa-{run};Lisa de Boer;lisa.{run}@example.org;en;2026-11-02\n", encoding="utf-8-sig")
    day = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()  # inside the grace window
    shifts = tmp_path / "rooster.csv"
    shifts.write_text("shift_id,volunteer_id,started_at,ended_at,task\n"
                      f"s1-{run},anna-{run},{day} 09:00,{day} 12:00,Koffie schenken\n"
                      f"s2-{run},lisa-{run},{day} 14:00,{day} 16:00,\n"
                      f"s3-{run},lisa-{run},{day} 18:00,{day} 17:00,\n")
    skipped = []
    for _ in range(2):
        first = await publish_file(mail_settings, "volunteers", people, on_row=skipped.append)
        second = await publish_file(mail_settings, "shifts", shifts, on_row=skipped.append)
        assert (first.published, first.skipped, second.published, second.skipped) == (2, 1, 2, 1)
    assert sorted((row.line, row.problem.split(":")[0]) for row in skipped if row.problem) == \
        [(3, "email"), (3, "email"), (4, "row"), (4, "row")]

    async def thanked() -> list:
        async with runtime.sessions() as session:
            return sorted((await session.execute(select(mails.c.volunteer_id, mails.c.status).where(
                mails.c.volunteer_id.like(f"%-{run}")))).all())

    await eventually(lambda: len(smtp_server.to(f"anna.{run}@example.org")) and
                     len(smtp_server.to(f"lisa.{run}@example.org")))
    # The `sent` record is committed just after the server's 250: wait for it too.
    await eventually(lambda: equals(thanked(), [(f"anna-{run}", "sent"), (f"lisa-{run}", "sent")]))
    assert len(smtp_server.to(f"anna.{run}@example.org")) == len(smtp_server.to(f"lisa.{run}@example.org")) == 1


def test_the_import_command_sends_each_volunteers_rows_to_the_partition_any_kafka_client_picks(
        settings, tmp_path, monkeypatch):
    """Through the command, with --progress on a stream that is no terminal: the bar's
    last state and the summary are printed. The records are on the partition a plain
    producer's default partitioner picks for their key, so an organisation's own events
    about a volunteer stay in order with the imported ones."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from typer.testing import CliRunner

    from services.cli import app

    monkeypatch.chdir(tmp_path)  # no var/local.env here
    run = uuid.uuid4().hex[:6]
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    roster = tmp_path / "rooster.csv"
    volunteers = [f"p{number}-{run}" for number in range(12)]
    roster.write_text("shift_id,volunteer_id,started_at,ended_at\n" + "".join(
        f"s{shift}-{volunteer},{volunteer},{day} 0{shift}:00,{day} 0{shift}:30\n"
        for volunteer in volunteers for shift in range(1, 4)))
    result = CliRunner().invoke(app, ["import", "shifts", str(roster), "--progress"],
                                env={"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers})
    assert result.exit_code == 0, result.output
    assert "36/36" in result.output and "rows/s" in result.output
    assert result.output.splitlines()[-1] == "36 shifts published to Kafka, 0 rows skipped"

    async def where() -> tuple[dict, dict]:
        from shared.kafka import ensure_topics

        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
        await producer.start()
        try:  # where a plain producer's `send` puts each key, on a topic with as many partitions
            partitions = sorted(await producer.partitions_for("shifts.completed"))
            probe = f"import-probe-{run}"
            await ensure_topics(settings, [probe], partitions=len(partitions))
            expected = {volunteer: (await (await producer.send(probe, b"probe", key=volunteer.encode()))).partition
                        for volunteer in volunteers}
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None)
        await consumer.start()
        found: dict = {}
        try:
            tps = [TopicPartition("shifts.completed", p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            async def unread() -> bool:
                return any([await consumer.position(tp) < ends[tp] for tp in tps])

            while await unread():
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    for record in records:
                        if record.key and record.key.decode() in expected:
                            found.setdefault(record.key.decode(), []).append(
                                (record.partition, json.loads(record.value)["data"]["shift_id"]))
        finally:
            await consumer.stop()
        return expected, found

    expected, found = asyncio.run(where())
    assert set(found) == set(volunteers)
    for volunteer in volunteers:
        assert {partition for partition, _ in found[volunteer]} == {expected[volunteer]}
        assert [shift for _, shift in found[volunteer]] == [f"s{n}-{volunteer}" for n in (1, 2, 3)]  # file order
