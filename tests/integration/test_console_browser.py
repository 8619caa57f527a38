"""The console in a real browser: Debian's Chromium (installed by
deploy/chromium/chromium.sh, through tests/infra.py) driven by Playwright, against
the console served over real HTTP on a loopback port, on the real PostgreSQL and
Kafka. A coordinator signs in, sees an alert, a to-do and an upcoming milestone on
Today, closes the alert by "I spoke to …" (a checkins.completed on Kafka), marks the
to-do done, switches to English and signs out.

Screenshots of each page at 390 and 1280 px go to $CONSOLE_SCREENSHOTS when set
(else the test's tmp_path), for people to look at."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy import select

from services.console import usecases
from services.console.service import definition as console
from services.console.tables import alerts, todos, upcoming
from services.console.texts import long_date
from shared.contracts import (ALERT_RAISED, MILESTONE_UPCOMING, TODO_OPENED, VOLUNTEER_REGISTERED, EventType)
from tests.infra import ensure_chromium
from tests.integration.conftest import eventually, read_topic, structured

PASSWORD = "a long enough password"
WIDTHS = (390, 1280)  # a phone, a laptop


@pytest_asyncio.fixture
async def browser():
    """Chromium from Debian's package: a missing browser fails here, it never skips."""
    executable = ensure_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            yield launched
        finally:
            await launched.close()


@contextlib.asynccontextmanager
async def served(app):  # noqa: ANN001, ANN201
    """The app over real HTTP on a free loopback port, in this event loop (so it shares
    the runtime's database pool); yields the base URL."""
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if serving.done():
                serving.result()  # raises what stopped it
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        listening.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def publish(producer, event_type: EventType, data: dict) -> None:  # noqa: ANN001
    value, headers = structured(event_type.type, data, source="https://appreciation.example.org")
    await producer.send_and_wait(event_type.topic, value=value, key=data["volunteer_id"].encode(), headers=headers)


async def snap(page: Page, folder: Path, name: str) -> None:
    """Full-page screenshots at each width; the page never scrolls sideways on a phone."""
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} at {width} px is {overflow} px too wide"
        await page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
    await page.set_viewport_size({"width": WIDTHS[-1], "height": 900})


async def test_a_coordinators_morning_in_the_browser(start_service, producer, infra, browser, screenshots):
    service = await start_service(console)
    run = uuid.uuid4().hex[:6]
    wim, henk, anna = f"wim-{run}", f"henk-{run}", f"anna-{run}"
    now = datetime.now(timezone.utc)
    today = now.astimezone(service.settings.timezone).date()
    card_by, anniversary = today + timedelta(days=5), today + timedelta(days=12)
    for volunteer_id, name in ((wim, "Wim Jansen"), (henk, "Henk Verweij"), (anna, "Anna de Vries")):
        await publish(producer, VOLUNTEER_REGISTERED, {
            "volunteer_id": volunteer_id, "name": name, "email": f"{volunteer_id}@example.org", "language": "nl",
            "registered_at": "2021-12-04T10:00:00+01:00", "coordinator_email": "ria@example.org"})
    await publish(producer, ALERT_RAISED, {"volunteer_id": wim, "reason": "intake-overdue",
                                           "coordinator_email": "ria@example.org",
                                           "due_since": (now - timedelta(days=9)).isoformat()})
    await publish(producer, TODO_OPENED, {"volunteer_id": henk, "todo_id": "years-5-card", "action": "write-card",
                                          "milestone": "years-5", "due_on": card_by.isoformat()})
    await publish(producer, MILESTONE_UPCOMING, {
        "volunteer_id": henk, "milestone": "years-5", "measure": "years", "threshold": 5, "value": 4,
        "expected_on": anniversary.isoformat(), "sends": [
            {"notification": "coordinator-reminder", "audience": "coordinator", "on": card_by.isoformat()},
            {"notification": "service-anniversary", "audience": "volunteer", "on": anniversary.isoformat()},
            {"notification": "lunch-invitation", "audience": "volunteer", "on": anniversary.isoformat()}]})
    await publish(producer, MILESTONE_UPCOMING, {
        "volunteer_id": anna, "milestone": "shifts-50", "measure": "shifts", "threshold": 50, "value": 48,
        "sends": [{"notification": "milestone-card", "audience": "volunteer"}]})

    async def all_in():
        async with service.sessions() as session:
            return (await session.scalar(select(alerts.c.id).where(alerts.c.volunteer_id == wim))
                    and await session.scalar(select(todos.c.todo_id).where(todos.c.volunteer_id == henk))
                    and len((await session.execute(select(upcoming).where(
                        upcoming.c.volunteer_id.in_([henk, anna])))).all()) == 2)

    await eventually(all_in)
    async with service.engine.begin() as connection:
        await usecases.add_user(connection, "ria@example.org", "coordinator", PASSWORD)
        await usecases.add_user(connection, "admin@example.org", "admin", PASSWORD, language="en")

    async with served(service.http_app()) as base:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL",
                                            accept_downloads=True)
        page = await context.new_page()
        page.set_default_timeout(15_000)

        # Without a session, any page lands on the sign-in page.
        await page.goto(f"{base}/volunteers/{wim}")
        await expect(page).to_have_url(f"{base}/login?next=%2Fvolunteers%2F{wim}")
        await page.goto(f"{base}/")
        await expect(page).to_have_url(f"{base}/login?next=%2F")
        await expect(page.get_by_role("heading", name="Inloggen")).to_be_visible()
        await snap(page, screenshots, "login-nl")

        await page.get_by_label("E-mailadres").fill("ria@example.org")
        await page.get_by_label("Wachtwoord").fill("not the password")
        await page.get_by_role("button", name="Inloggen").click()
        await expect(page.get_by_role("alert")).to_have_text("E-mailadres of wachtwoord klopt niet.")
        await page.fill("input[name=email]", "ria@example.org")
        await page.fill("input[name=password]", PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        await expect(page).to_have_url(f"{base}/")

        # Today: the alert, the to-do, the upcoming milestones.
        alert = page.locator(".card", has_text="Wim Jansen")
        await expect(alert).to_contain_text("Nog geen kennismakingsgesprek")
        await expect(alert).to_contain_text("(9 dagen)")
        todo = page.locator(".card", has_text="persoonlijke kaart")
        await expect(todo).to_contain_text(f"Schrijf Henk Verweij een persoonlijke kaart vóór {long_date(card_by, 'nl')}")
        coming = page.locator("#upcoming-list > li")
        await expect(coming).to_have_count(2)
        await expect(coming.first).to_contain_text(f"Henk Verweij · 5 jaar vrijwilliger op {long_date(anniversary, 'nl')}")
        await expect(coming.first).to_contain_text(f"Jubileumkaart aan de vrijwilliger op {long_date(anniversary, 'nl')}")
        await expect(coming.first).to_contain_text(f"Herinnering aan de coördinator op {long_date(card_by, 'nl')}")
        await expect(coming.nth(1)).to_contain_text("Anna de Vries · 50 diensten · nu 48 van 50")
        await expect(coming.nth(1)).to_contain_text("Mijlpaalkaart aan de vrijwilliger zodra de mijlpaal bereikt is")
        await snap(page, screenshots, "today-nl")

        # "I spoke to Wim": a check-in on Kafka, and the alert closes.
        await alert.get_by_role("button", name="Ik heb Wim Jansen gesproken").click()
        await expect(page).to_have_url(f"{base}/volunteers/{wim}?done=spoke")
        await expect(page.get_by_role("status")).to_contain_text("Vastgelegd: het gesprek is gehouden.")
        checkins = await read_topic(infra.kafka_bootstrap, "checkins.completed", wim.encode(), settle=0)
        assert json.loads(checkins[0].value)["data"]["kind"] == "intake"

        async def alert_gone() -> bool:
            await page.goto(f"{base}/")
            return await page.get_by_text("Geen open signalen.").is_visible()

        await eventually(alert_gone, timeout=20, interval=0.5)

        # The to-do, done from Today.
        todo = page.locator(".card", has_text="persoonlijke kaart")
        await todo.get_by_label("Notitie (niet verplicht)").fill("Kaart gegeven bij de koffie.")
        await todo.get_by_role("button", name="Gedaan").click()
        await expect(page.get_by_role("status")).to_have_text("Vastgelegd: de to-do is gedaan.")
        await expect(page.get_by_text("Geen open to-do's.")).to_be_visible()

        await page.goto(f"{base}/volunteers/{henk}")
        await expect(page.get_by_text("Kaart gegeven bij de koffie.")).to_be_visible()
        await expect(page.locator("#upcoming-list > li")).to_contain_text("5 jaar vrijwilliger")
        await snap(page, screenshots, "volunteer-nl")

        # English, kept on her account.
        await page.get_by_role("button", name="English").click()
        await expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
        await expect(page.locator("#upcoming-list > li").first).to_contain_text(
            f"5 years of service on {long_date(anniversary, 'en')}")
        await expect(page.locator("#upcoming-list > li").first).to_contain_text(
            f"Anniversary card to the volunteer on {long_date(anniversary, 'en')}")
        await snap(page, screenshots, "today-en")
        await page.goto(f"{base}/volunteers/{henk}")
        await snap(page, screenshots, "volunteer-en")
        await page.goto(f"{base}/search?q=verweij")
        await expect(page.get_by_role("link", name="Henk Verweij")).to_be_visible()
        await snap(page, screenshots, "search-en")

        # Sign out: the next page asks to sign in again.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(f"{base}/login")
        await page.goto(f"{base}/")
        await expect(page).to_have_url(f"{base}/login?next=%2F")

        # An administrator downloads Henk's data from his page.
        await page.fill("input[name=email]", "admin@example.org")  # the sign-in page speaks the browser's Dutch
        await page.fill("input[name=password]", PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        await expect(page).to_have_url(f"{base}/")
        await page.goto(f"{base}/volunteers/{henk}")
        await snap(page, screenshots, "volunteer-admin-en")
        async with page.expect_download() as downloading:
            await page.get_by_role("button", name="Export").click()
        download = await downloading.value
        assert download.suggested_filename == f"dankjewel-{henk}.json"
        exported = json.loads(Path(await download.path()).read_text())
        assert exported["services"]["console"]["console_volunteers"][0]["name"] == "Henk Verweij"
        await context.close()

    done = await read_topic(infra.kafka_bootstrap, "todos.done", henk.encode(), settle=0)
    assert json.loads(done[0].value)["data"]["note"] == "Kaart gegeven bij de koffie."
