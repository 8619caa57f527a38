"""Changing the rules file, end to end on Kafka, PostgreSQL and SMTP: `dankjewel rules
check` shows what a new file would do; the next start applies it to every volunteer
once (a new threshold below a volunteer's count is recorded, mailed only when it was
passed inside the grace window), and a second start does nothing more."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from services.appreciation import domain, usecases
from services.appreciation.rules import DEFAULT_RULES_FILE, load_rules
from services.appreciation.service import definition as appreciation
from services.appreciation.tables import ledger, mails, rules_applied, volunteers
from shared.contracts import SHIFT_COMPLETED, VOLUNTEER_REGISTERED
from tests.integration.conftest import eventually, structured

NEW_RULE = "\n  - measure: shifts\n    at: [11]\n    notify: [milestone-card]\n"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def publish(producer, event_type, data: dict) -> None:
    topic = {VOLUNTEER_REGISTERED.type: "volunteers.registered", SHIFT_COMPLETED.type: "shifts.completed"}[event_type]
    value, headers = structured(event_type, data)
    await producer.send_and_wait(topic, value=value, key=data["volunteer_id"].encode(), headers=headers)


async def volunteer_with_shifts(producer, name: str, ends: list[datetime]) -> tuple[str, str]:
    volunteer_id, email = uid(name.lower()), f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org"
    await publish(producer, VOLUNTEER_REGISTERED.type, {
        "volunteer_id": volunteer_id, "name": name, "email": email, "language": "nl",
        "registered_at": "2024-01-01T10:00:00+01:00", "service_started_on": "2024-01-01"})
    for end in ends:
        await publish(producer, SHIFT_COMPLETED.type, {
            "shift_id": uid("shift"), "volunteer_id": volunteer_id, "started_at": (end - timedelta(hours=2)).isoformat(),
            "ended_at": end.isoformat()})
    return volunteer_id, email


async def ledger_of(runtime, volunteer_id) -> dict[str, bool]:
    async with runtime.sessions() as session:
        return {r.milestone: r.celebrated for r in await session.execute(
            select(ledger).where(ledger.c.volunteer_id == volunteer_id))}


async def counted(runtime, volunteer_id, shifts: int) -> bool:
    async with runtime.sessions() as session:
        return await session.scalar(select(volunteers.c.shift_count).where(
            volunteers.c.volunteer_id == volunteer_id)) == shifts


async def mail_count(runtime) -> int:
    async with runtime.sessions() as session:
        return len((await session.execute(select(mails.c.id))).all())


async def test_a_new_threshold_below_the_count_is_recorded_once_and_mailed_only_when_fresh(
        start_service, producer, mail_settings, smtp_server, tmp_path: Path):
    now = datetime.now(timezone.utc)
    runtime = await start_service(appreciation, settings=mail_settings)
    # Oud did all twelve shifts long ago; Vers did the 11th two days ago and the 12th yesterday.
    old_ends = [datetime(2025, 3, 1, 12, tzinfo=timezone.utc) + timedelta(days=7 * n) for n in range(12)]
    fresh_ends = old_ends[:10] + [now - timedelta(days=2), now - timedelta(days=1)]
    oud, oud_email = await volunteer_with_shifts(producer, "Oud", old_ends)
    vers, vers_email = await volunteer_with_shifts(producer, "Vers", fresh_ends)
    await eventually(lambda: counted(runtime, oud, 12), timeout=60)
    await eventually(lambda: counted(runtime, vers, 12), timeout=60)
    assert "shifts-11" not in await ledger_of(runtime, vers)
    # the first sweep (at the start) took the shipped rules as the baseline
    await eventually(lambda: _applied(runtime, domain.rules_digest(load_rules())))

    new_file = tmp_path / "rules.yaml"
    new_file.write_text(DEFAULT_RULES_FILE.read_text().replace(
        "    at: [10, 25, 50, 100]\n    notify: [milestone-card]\n",
        "    at: [10, 25, 50, 100]\n    notify: [milestone-card]" + NEW_RULE))
    new_rules = load_rules(new_file)

    # `dankjewel rules check`: read only, per milestone; this test's two volunteers among any others
    effect, _ = await usecases.rules_effect(runtime.sessions, new_rules, now, mail_settings.timezone)
    assert effect.celebrated.get("shifts-11", 0) >= 1 and effect.silent.get("shifts-11", 0) >= 1
    checked = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "dankjewel"), "rules", "check", str(new_file),
        env=os.environ | {"DATABASE_URL": mail_settings.database_url}, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await checked.communicate()
    assert checked.returncode == 0, err.decode()
    row = next(line for line in out.decode().splitlines() if line.startswith("shifts-11 "))
    assert row.split()[1:] == [str(effect.celebrated["shifts-11"]), str(effect.silent["shifts-11"])]
    assert "differ from those last applied" in out.decode()
    assert "shifts-11" not in await ledger_of(runtime, vers)  # the check changed nothing
    mails_before = await mail_count(runtime)

    # The next start with the new file re-evaluates every volunteer once (its first sweep).
    await runtime.stop()
    new_settings = mail_settings.model_copy(update={"rules_file": new_file})
    runtime = await start_service(appreciation, settings=new_settings)
    await eventually(lambda: _applied(runtime, domain.rules_digest(new_rules)), timeout=60)
    assert (await ledger_of(runtime, oud))["shifts-11"] is False  # passed long ago: recorded, not mailed
    assert (await ledger_of(runtime, vers))["shifts-11"] is True
    await eventually(lambda: [m for m in smtp_server.to(vers_email) if m["X-Dankjewel-Notification"] ==
                              "milestone-card"], timeout=30)
    assert smtp_server.to(oud_email) == []
    cards = [m for m in smtp_server.to(vers_email) if m["X-Dankjewel-Notification"] == "milestone-card"]
    assert len(cards) == 1 and cards[0]["Subject"].startswith("11 diensten")
    assert await mail_count(runtime) == mails_before + 1

    # A second start with the same file does nothing more.
    await runtime.stop()
    runtime = await start_service(appreciation, settings=new_settings)
    assert await runtime.sweep(datetime.now(timezone.utc)) == 0
    assert await usecases.apply_changed_rules(runtime, new_rules, datetime.now(timezone.utc)) is None
    await asyncio.sleep(2)  # would a second card come?
    assert len([m for m in smtp_server.to(vers_email) if m["X-Dankjewel-Notification"] == "milestone-card"]) == 1
    assert await mail_count(runtime) == mails_before + 1
    effect, _ = await usecases.rules_effect(runtime.sessions, new_rules, now, mail_settings.timezone)
    assert effect.celebrated == {} and effect.silent == {}


async def _applied(runtime, digest: str) -> bool:
    async with runtime.sessions() as session:
        return await session.scalar(select(rules_applied.c.digest)) == digest


async def test_n_shifts_in_a_calendar_year_is_celebrated_once_per_year(
        start_service, producer, mail_settings, smtp_server, tmp_path: Path):
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("milestones:\n  - measure: shifts\n    at: [3]\n    per: year\n"
                          "    notify: [milestone-card]\n")
    runtime = await start_service(appreciation, settings=mail_settings.model_copy(update={"rules_file": rules_file}))
    now = datetime.now(timezone.utc)
    this_year = domain.year_of(now, mail_settings.timezone)
    # two shifts last year, then four this year (the last three in the past days)
    ends = [datetime(this_year - 1, 6, 1, 12, tzinfo=timezone.utc), datetime(this_year - 1, 6, 8, 12, tzinfo=timezone.utc),
            datetime(this_year, 1, 10, 12, tzinfo=timezone.utc)] + [now - timedelta(hours=h) for h in (50, 26, 2)]
    if any(domain.year_of(end, mail_settings.timezone) != this_year for end in ends[2:]):
        ends = ends[:3] + [now - timedelta(minutes=m) for m in (30, 20, 10)]  # just after New Year
    jaar, email = await volunteer_with_shifts(producer, "Jaar", ends)
    await eventually(lambda: counted(runtime, jaar, 6), timeout=60)
    # the third shift of this year crossed it; last year's two never reached three
    assert await ledger_of(runtime, jaar) == {f"shifts-3-{this_year}": True}
    await eventually(lambda: smtp_server.to(email), timeout=30)
    await asyncio.sleep(2)  # would a second card come with the fourth shift?
    assert [m["X-Dankjewel-Notification"] for m in smtp_server.to(email)] == ["milestone-card"]
