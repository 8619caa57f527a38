"""Phase 6: the coordinators' Today page with a realistic population — 10,000
volunteers and 1,000 open alerts — served by the console on PostgreSQL, signed in,
measured over repeated requests through its ASGI app (no network in between)."""

from __future__ import annotations

import random
import re
import secrets
import statistics
import time
from datetime import date, datetime, timedelta, timezone

VOLUNTEERS = 10_000
OPEN_ALERTS = 1_000
REQUESTS = 30
REASONS = ("intake-overdue", "onboarding-overdue", "periodic-overdue", "quiet-volunteer", "missed-shifts")


async def console_phase(settings, result, say) -> None:  # noqa: ANN001
    import httpx

    from services.console import usecases
    from services.console.service import definition
    from services.console.tables import alerts, volunteers
    from shared.db import insert_rows
    from shared.service import ServiceRuntime

    from pydantic import SecretStr

    settings = settings.model_copy(update={"console_session_secret": SecretStr(secrets.token_urlsafe(32))})
    runtime = ServiceRuntime(definition, settings)
    await runtime.start(consume=False, background=False, scheduled_sweeps=False)
    try:
        rng = random.Random(6)
        today = date.today()
        now = datetime.now(timezone.utc)
        people = [dict(volunteer_id=f"con-{i:05d}", name=f"Vrijwilliger {i:05d}", search_key=f"vrijwilliger {i:05d}",
                       language="nl", coordinator_email=f"coordinator{i % 20}@example.org",
                       service_started_on=today - timedelta(days=rng.randrange(30, 20 * 365)),
                       registered_at=now - timedelta(days=rng.randrange(1, 3000)), active=True,
                       appreciation_mail_consent=True, shift_count=rng.randrange(0, 200), last_shift_at=None,
                       erased_at=None) for i in range(VOLUNTEERS)]
        open_alerts = [dict(volunteer_id=f"con-{rng.randrange(VOLUNTEERS):05d}", reason=rng.choice(REASONS),
                            due_since=now - timedelta(days=rng.randrange(1, 120)), raised_at=now, times_raised=1,
                            coordinator_email=None, acknowledged_by=None, acknowledged_at=None, closed_at=None,
                            closed_by=None) for _ in range(OPEN_ALERTS)]
        async with runtime.engine.begin() as connection:
            from sqlalchemy.ext.asyncio import AsyncSession

            session = AsyncSession(bind=connection)
            await insert_rows(session, volunteers, people)
            await insert_rows(session, alerts, open_alerts)
            await usecases.add_user(connection, "bench@example.org", "coordinator", "a bench password")
        transport = httpx.ASGITransport(app=runtime.http_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            form = await client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            signed_in = await client.post("/login", data={"email": "bench@example.org",
                                                          "password": "a bench password", "csrf": csrf})
            if signed_in.status_code != 303:
                raise RuntimeError(f"bench: console sign-in answered {signed_in.status_code}")
            timings, size = [], 0
            for _ in range(REQUESTS + 3):  # the first few warm the caches and are left out
                started = time.perf_counter()
                page = await client.get("/")
                timings.append((time.perf_counter() - started) * 1000)
                if page.status_code != 200:
                    raise RuntimeError(f"bench: Today answered {page.status_code}")
                size = len(page.content)
        measured = sorted(timings[3:])
        result.figures["console_today_ms"] = {50: statistics.median(measured),
                                              95: measured[int(len(measured) * 0.95) - 1]}
        result.figures["console_today_bytes"] = size
        say(f"console Today: p50 {measured[len(measured) // 2]:.0f} ms over {len(measured)} requests, "
            f"{size / 1024:.0f} KiB")
    finally:
        await runtime.stop()
