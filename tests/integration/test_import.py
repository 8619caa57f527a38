"""`dankjewel import`: a CSV export through real Kafka to the services; a file
imported twice gives each mail once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import mails
from services.importer import publish_file
from tests.integration.conftest import eventually


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
    assert await eventually(thanked) == [(f"anna-{run}", "sent"), (f"lisa-{run}", "sent")]
    assert len(smtp_server.to(f"anna.{run}@example.org")) == len(smtp_server.to(f"lisa.{run}@example.org")) == 1
