"""A realistic, reproducible mix of events, and the mails it must lead to."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from services.appreciation import domain
from services.appreciation.rules import load_rules
from shared.envelope import structured_record
from shared.contracts import CHECKIN_COMPLETED, SHIFT_COMPLETED, VOLUNTEER_REGISTERED

SOURCE = "https://rooster.example.org"
SECOND_SOURCE = "https://kiosk.example.org"


@dataclass
class Record:
    topic: str
    key: bytes
    value: bytes
    headers: list = field(default_factory=lambda: [("content-type", b"application/cloudevents+json")])


@dataclass
class Mix:
    records: list[Record]
    expected: set[tuple[str, str, str]]  # (recipient, notification, milestone)

    @property
    def events(self) -> int:
        return len(self.records)


def _record(event_type, data: dict, *, source: str = SOURCE, event_id: str | None = None) -> Record:  # noqa: ANN001
    value, headers = structured_record(event_type.type, data, source=source, event_id=event_id)
    return Record(event_type.topic, data["volunteer_id"].encode(), value, headers)


def build_mix(events: int, seed: int, run: str) -> Mix:
    """About `events` records: per volunteer a registration, 1–14 recent shifts (so
    first-shift, shifts-10 and hours milestones occur) and sometimes a check-in."""
    rng = random.Random(seed)
    rules = load_rules()
    now = datetime.now(timezone.utc)
    records: list[Record] = []
    expected: set[tuple[str, str, str]] = set()
    number = 0
    while len(records) < events:
        number += 1
        volunteer = f"{run}-v{number}"
        email = f"{volunteer}@example.org"
        records.append(_record(VOLUNTEER_REGISTERED, {
            "volunteer_id": volunteer, "name": f"Vrijwilliger {number}", "email": email,
            "language": rng.choice(["nl", "en"]), "registered_at": (now - timedelta(days=3)).isoformat()}))
        shifts = rng.choice([1, 1, 2, 3, 5, 8, 10, 11, 14])
        hours = 0.0
        for s in range(shifts):
            end = now - timedelta(hours=2 + s)
            length = rng.choice([2, 3, 4])
            hours += length
            records.append(_record(SHIFT_COMPLETED, {
                "shift_id": f"{volunteer}-s{s}", "volunteer_id": volunteer,
                "started_at": (end - timedelta(hours=length)).isoformat(), "ended_at": end.isoformat()}))
        if rng.random() < 0.3:
            records.append(_record(CHECKIN_COMPLETED, {
                "checkin_id": f"{volunteer}-c", "volunteer_id": volunteer, "kind": "intake",
                "held_at": (now - timedelta(days=1)).isoformat()}))
        for hit in domain.crossed(rules, "shifts", 0, shifts) + domain.crossed(rules, "hours", 0, hours):
            for notification in hit.rule.notify:
                expected.add((email, notification, hit.milestone))
    return Mix(records, expected)


def triple_from_two_sources(mix: Mix) -> Mix:
    """Every event three times: twice as is (redelivery), once from a second system
    under its own id (a kiosk reporting the same shift)."""
    records = []
    for record in mix.records:
        body = json.loads(record.value)
        body |= {"source": SECOND_SOURCE, "id": f"kiosk-{body['id']}"}
        records += [record, record, Record(record.topic, record.key, json.dumps(body).encode())]
    return Mix(records, mix.expected)


def out_of_order(mix: Mix, seed: int) -> Mix:
    """Each volunteer's events reversed (shifts before registration), volunteers interleaved."""
    by_volunteer: dict[bytes, list[Record]] = {}
    for record in mix.records:
        by_volunteer.setdefault(record.key, []).append(record)
    queues = [list(reversed(records)) for records in by_volunteer.values()]
    rng = random.Random(seed)
    records = []
    while queues:
        queue = rng.choice(queues)
        records.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return Mix(records, mix.expected)
