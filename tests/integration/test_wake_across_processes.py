"""The mail sender in a process of its own is woken by PostgreSQL's NOTIFY when the
consumer (another runtime) queues mail: it sends at once, not at its next poll."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

from services.appreciation.service import definition as appreciation
from shared.contracts import SHIFT_COMPLETED, VOLUNTEER_REGISTERED
from tests.integration.conftest import eventually, structured

POLL = 60.0  # the sender's own poll: far longer than the test waits


async def test_a_sender_in_another_process_hears_of_new_mail_at_once(start_service, mail_settings, smtp_server,
                                                                      producer):
    slow_poll = mail_settings.model_copy(update={"mail_poll_seconds": POLL})
    # Two runtimes, as `run appreciation --no-background` and `background appreciation`
    # would be: they share nothing but the database.
    await start_service(appreciation, settings=slow_poll, parts={"consume": True, "background": False})
    await start_service(appreciation, settings=slow_poll, parts={"consume": False, "background": True})
    await asyncio.sleep(2)  # past the sender's first look at start-up: from now on only a wake or its poll

    volunteer, address = f"wake-{uuid.uuid4().hex[:8]}", f"wake.{uuid.uuid4().hex[:6]}@example.org"
    now = datetime.now(timezone.utc)
    registered, headers = structured(VOLUNTEER_REGISTERED.type, {
        "volunteer_id": volunteer, "name": "Anna", "email": address, "language": "nl",
        "registered_at": (now - timedelta(days=20)).isoformat()})
    await producer.send_and_wait(VOLUNTEER_REGISTERED.topic, registered, key=volunteer.encode(), headers=headers)
    shift, headers = structured(SHIFT_COMPLETED.type, {
        "volunteer_id": volunteer, "shift_id": f"s-{volunteer}", "started_at": (now - timedelta(hours=4)).isoformat(),
        "ended_at": (now - timedelta(hours=1)).isoformat()})
    published = time.monotonic()
    await producer.send_and_wait(SHIFT_COMPLETED.topic, shift, key=volunteer.encode(), headers=headers)

    await eventually(lambda: smtp_server.to(address), timeout=POLL / 3)
    assert time.monotonic() - published < POLL / 3  # woken, not polled

