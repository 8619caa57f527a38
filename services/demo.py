"""`dankjewel demo`: a short history built from the focus group's stories, published
through Kafka as an organisation's own systems would, then the sweeps.

Runs against a running stack: `make run` in another terminal (mail in its folder),
or docker compose (`docker compose run --rm appreciation dankjewel demo --mailpit
http://mailpit:8025`). Dates are relative to today, so the demo shows the same
mails on any day it is run."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.request import urlopen

from aiokafka import AIOKafkaProducer

from shared.envelope import structured_record
from shared.contracts import CHECKIN_COMPLETED, HELP_OFFERED, SHIFT_COMPLETED, VOLUNTEER_REGISTERED, EventType
from services.settings import DankjewelSettings

SOURCE = "https://rooster.voorbeeld.nl"  # the organisation's own rostering system


def history(today: date, tz, run: str) -> list[tuple[EventType, dict]]:  # noqa: ANN001
    """(event type, data) in the order an organisation's systems would send them."""
    def at(day: date, hour: int) -> str:
        return datetime.combine(day, time(hour), tzinfo=tz).isoformat()

    henk, samira, gerard = f"henk-{run}", f"samira-{run}", f"gerard-{run}"
    five_years_on = today + timedelta(days=5)

    def checkin(volunteer: str, kind: str, days_ago: int) -> tuple[EventType, dict]:
        return (CHECKIN_COMPLETED, {"checkin_id": f"{volunteer}-{kind}", "volunteer_id": volunteer, "kind": kind,
                                    "held_at": at(today - timedelta(days=days_ago), 10)})

    events: list[tuple[EventType, dict]] = [
        # Henk (72) has driven for five years; his anniversary is in five days. His
        # coordinator keeps in touch (intake, onboarding, a periodic talk last month).
        (VOLUNTEER_REGISTERED, {"volunteer_id": henk, "name": "Henk", "email": "henk@example.org", "language": "nl",
                                "registered_at": at(today - timedelta(days=90), 10),
                                "service_started_on": five_years_on.replace(year=five_years_on.year - 5).isoformat()}),
        checkin(henk, "intake", 89), checkin(henk, "onboarding", 80), checkin(henk, "periodic", 30),
    ]
    # His roster of the last twelve weeks, imported: the first shift and the tenth are
    # older than the grace window, so they are recorded but not celebrated.
    for week in range(12):
        day = today - timedelta(days=84 - 7 * week)
        events.append((SHIFT_COMPLETED, {"shift_id": f"{henk}-rit-{week}", "volunteer_id": henk,
                                         "started_at": at(day, 9), "ended_at": at(day, 13), "task": "boodschappenrit"}))
    events += [
        # Samira (39) can help once a month, on a Thursday afternoon; her first shift was yesterday.
        (VOLUNTEER_REGISTERED, {"volunteer_id": samira, "name": "Samira", "email": "samira@example.org",
                                "language": "nl", "registered_at": at(today - timedelta(days=20), 20)}),
        checkin(samira, "intake", 15),
        (SHIFT_COMPLETED, {"shift_id": f"{samira}-1", "volunteer_id": samira, "started_at": at(today - timedelta(days=1), 13),
                           "ended_at": at(today - timedelta(days=1), 16), "task": "voorleesmiddag"}),
        # Gerard (68), a retired draughtsman, offered his help nine days ago; nobody called back.
        (VOLUNTEER_REGISTERED, {"volunteer_id": gerard, "name": "Gerard", "email": "gerard@example.org",
                                "language": "en", "registered_at": at(today - timedelta(days=9), 11)}),
        (HELP_OFFERED, {"volunteer_id": gerard, "application_id": f"{gerard}-aanbod",
                        "opportunity_title": "technisch tekenwerk voor de klussendienst",
                        "offered_at": at(today - timedelta(days=9), 11)}),
    ]
    return events


async def publish_history(settings: DankjewelSettings, today: date) -> dict[str, str]:
    run = uuid.uuid4().hex[:6]
    producer = AIOKafkaProducer(**settings.kafka_client_options(), acks="all")
    await producer.start()
    try:
        for event_type, data in history(today, settings.timezone, run):
            value, headers = structured_record(event_type.type, data, source=SOURCE)
            await producer.send_and_wait(event_type.topic, value, key=data["volunteer_id"].encode(), headers=headers)
    finally:
        await producer.stop()
    return {"henk": f"henk-{run}", "samira": f"samira-{run}", "gerard": f"gerard-{run}"}


async def wait_until(check, seconds: float = 60) -> bool:  # noqa: ANN001
    for _ in range(int(seconds * 2)):
        if await check():
            return True
        await asyncio.sleep(0.5)
    return False


@dataclass(frozen=True)
class ArrivedMail:
    notification: str
    to: str
    subject: str
    where: str  # a file, or the mail's page in Mailpit


def mails_in_folder(folder: Path) -> dict[str, ArrivedMail]:
    """`make run`'s mail catcher: one .eml file per mail."""
    found = {}
    for path in folder.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        found[str(path)] = ArrivedMail(str(message["X-Dankjewel-Notification"]), str(message["To"]),
                                       str(message["Subject"]), str(path))
    return found


def mails_in_mailpit(base_url: str, limit: int = 200) -> dict[str, ArrivedMail]:
    """Mailpit (docker compose): its REST API, GET /api/v1/messages (the newest first)
    and GET /api/v1/message/{ID}/headers for the notification header."""
    base = base_url.rstrip("/")

    def get(path: str) -> dict:
        with urlopen(f"{base}{path}", timeout=10) as answer:  # noqa: S310 - an operator-given http(s) URL
            return json.load(answer)

    found = {}
    for summary in get(f"/api/v1/messages?limit={limit}").get("messages", []):
        headers = get(f"/api/v1/message/{summary['ID']}/headers")
        notification = (headers.get("X-Dankjewel-Notification") or ["?"])[0]
        to = ", ".join(address.get("Address", "") for address in summary.get("To") or [])
        found[summary["ID"]] = ArrivedMail(notification, to, summary.get("Subject", ""),
                                           f"{base}/view/{summary['ID']}")
    return found
