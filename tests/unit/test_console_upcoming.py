"""Upcoming milestones in the console (`milestones.upcoming`) and the admins' export.

The words are pure functions, one row per case. The read model and the pages run
for real on SQLite in tmp_path: the console's handlers apply events, and its own
routes (services/console/service.py) render Today and a volunteer's page."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from services.console import accounts, handlers, service, usecases
from services.console.tables import SERVICE, delivery, metadata, upcoming, volunteers
from services.console.texts import milestone_words, number, planned_mail, standing
from shared.contracts import (MILESTONE_REACHED, MILESTONE_UPCOMING, VOLUNTEER_ERASED, VOLUNTEER_REGISTERED,
                              VOLUNTEER_UPDATED)
from shared.delivery import Unit
from shared.envelope import new_event
from services.settings import load_settings

PASSWORD = "correct horse battery"
COORDINATOR, ADMIN = "ria@example.org", "bert@example.org"
# 23:30 UTC on 30 November is already 1 December in Amsterdam: the organisation's today.
NOW = datetime(2026, 11, 30, 23, 30, tzinfo=timezone.utc)
TODAY = date(2026, 12, 1)


# ---------------------------------------------------------------- words


@pytest.mark.parametrize(("measure", "threshold", "language", "words"), [
    ("shifts", 50, "nl", "50 diensten"),
    ("shifts", 50, "en", "50 shifts"),
    ("shifts", 1, "nl", "1 dienst"),
    ("shifts", 1, "en", "1 shift"),
    ("years", 5, "nl", "5 jaar vrijwilliger"),
    ("years", 5, "en", "5 years of service"),
    ("years", 1, "en", "1 year of service"),
    ("hours", 100, "nl", "100 uur"),
    ("hours", 100, "en", "100 hours"),
    ("hours", 1000, "nl", "1.000 uur"),
    ("hours", 1000, "en", "1,000 hours"),
    ("visits", 10, "nl", "visits-10"),  # a measure without words: the milestone's name
    ("shifts", 50, "fr", "50 diensten"),  # an unknown language: Dutch
])
def test_a_milestone_in_words(measure, threshold, language, words):
    assert milestone_words(measure, threshold, f"{measure}-{threshold}", language) == words


@pytest.mark.parametrize(("value", "threshold", "language", "words"), [
    (48, 50, "nl", "nu 48 van 50"),
    (48.0, 50, "en", "now 48 of 50"),
    (97.5, 100, "nl", "nu 97,5 van 100"),
    (97.5, 100, "en", "now 97.5 of 100"),
    (4, 5, "en", "now 4 of 5"),
])
def test_where_a_volunteer_stands(value, threshold, language, words):
    assert standing(value, threshold, language) == words


def test_numbers_are_written_as_the_reader_writes_them():
    assert (number(1234.5, "nl"), number(1234.5, "en"), number(3.0, "nl")) == ("1.234,5", "1,234.5", "3")


@pytest.mark.parametrize(("notification", "audience", "on", "language", "sentence"), [
    ("service-anniversary", "volunteer", TODAY, "nl", "Jubileumkaart aan de vrijwilliger op 1 december 2026"),
    ("service-anniversary", "volunteer", TODAY, "en", "Anniversary card to the volunteer on 1 December 2026"),
    ("milestone-card", "volunteer", None, "nl", "Mijlpaalkaart aan de vrijwilliger zodra de mijlpaal bereikt is"),
    ("milestone-card", "volunteer", None, "en", "Milestone card to the volunteer once the milestone is reached"),
    ("first-shift-thanks", "volunteer", None, "en",
     "Thank-you after the first shift to the volunteer once the milestone is reached"),
    ("lunch-invitation", "volunteer", date(2027, 1, 8), "nl", "Lunchuitnodiging aan de vrijwilliger op 8 januari 2027"),
    ("coordinator-reminder", "coordinator", date(2026, 11, 24), "nl",
     "Herinnering aan de coördinator op 24 november 2026"),
    ("coordinator-reminder", "coordinator", date(2026, 11, 24), "en", "Reminder to the coordinator on 24 November 2026"),
    ("todo-overdue", "lead", date(2026, 12, 2), "en", "todo-overdue to the lead on 2 December 2026"),  # by its name
    ("golden-pin", "volunteer", None, "nl", "golden-pin aan de vrijwilliger zodra de mijlpaal bereikt is"),
])
def test_what_dankjewel_will_send_to_whom_and_when(notification, audience, on, language, sentence):
    assert planned_mail(notification, audience, on, language) == sentence


# ---------------------------------------------------------------- the read model and the pages


class Console:
    """The console's routes on SQLite, with its handlers fed events directly."""

    def __init__(self, tmp_path) -> None:  # noqa: ANN001
        # NullPool: asyncio.run here and the TestClient's loop never share a connection.
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}", poolclass=NullPool)
        self.run(self._create)
        self.settings = load_settings(console_session_secret=secrets.token_urlsafe(32), org_timezone="Europe/Amsterdam")
        self.runtime = SimpleNamespace(name=SERVICE, settings=self.settings, engine=self.engine, clock=lambda: NOW,
                                       sessions=async_sessionmaker(self.engine, expire_on_commit=False),
                                       export_everywhere=None)  # the console on its own
        app = FastAPI()
        accounts.install(app)
        app.include_router(service.routes(self.runtime))
        self.app = app
        self.run(lambda: self._users())

    async def _create(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def _users(self) -> None:
        async with self.engine.begin() as connection:
            await usecases.add_user(connection, COORDINATOR, "coordinator", PASSWORD)
            await usecases.add_user(connection, ADMIN, "admin", PASSWORD, language="en")

    @staticmethod
    def run(work):  # noqa: ANN001, ANN205
        return asyncio.run(work())

    def publish(self, event_type, handler, **data) -> None:  # noqa: ANN001
        """Apply one event as the consumer would (its handler, in a transaction)."""
        async def apply() -> None:
            envelope = new_event(event_type, event_type.model(**data), "https://test.example.org", time=NOW)
            async with async_sessionmaker(self.engine)() as session, session.begin():
                await handler(Unit(session=session, tables=delivery, source=SERVICE, settings=self.settings,
                                   now=NOW), envelope)

        self.run(apply)

    def register(self, volunteer_id: str, name: str, coordinator: str = COORDINATOR) -> None:
        self.publish(VOLUNTEER_REGISTERED, handlers.remember_registration, volunteer_id=volunteer_id, name=name,
                     email=f"{volunteer_id}@example.org", language="nl", registered_at="2021-12-04T10:00:00+01:00",
                     coordinator_email=coordinator)

    def announce(self, volunteer_id: str, milestone: str, value: float, expected_on: date | None = None,
                 sends: list[dict] | None = None) -> None:
        measure, threshold = milestone.rsplit("-", 1)
        self.publish(MILESTONE_UPCOMING, handlers.note_upcoming, volunteer_id=volunteer_id, milestone=milestone,
                     measure=measure, threshold=int(threshold), value=value, expected_on=expected_on,
                     sends=sends or [])

    def reach(self, volunteer_id: str, milestone: str) -> None:
        self.publish(MILESTONE_REACHED, handlers.note_milestone, volunteer_id=volunteer_id, milestone=milestone,
                     reached_on=TODAY, celebrated=True)

    def rows(self, volunteer_id: str) -> dict[str, str]:
        async def read() -> dict[str, str]:
            async with self.engine.connect() as connection:
                found = await connection.execute(select(upcoming.c.measure, upcoming.c.milestone).where(
                    upcoming.c.volunteer_id == volunteer_id))
                return dict(found.all())

        return self.run(read)

    def signed_in(self, email: str = COORDINATOR) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        token = csrf(client.get("/login").text)
        assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf": token}).status_code == 303
        return client


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def upcoming_section(page: str) -> str:
    """The upcoming milestones' section as a reader sees it: text without markup, one space between words."""
    section = page[page.index('id="upcoming"'):]
    return " ".join(re.sub(r"<[^>]+>", " ", section).split())


@pytest.fixture
def console(tmp_path):
    console = Console(tmp_path)
    yield console
    asyncio.run(console.engine.dispose())


@pytest.mark.parametrize(("measure", "expected_on", "shown"), [
    ("years", TODAY, True),  # the organisation's today (UTC's is still 30 November)
    ("years", TODAY + timedelta(days=30), True),  # the 30th day
    ("years", TODAY + timedelta(days=31), False),
    ("years", TODAY - timedelta(days=1), False),  # passed: the reached event is on its way
    ("years", None, False),  # years without a date: nothing to go by
    ("shifts", None, True),  # counts: announced only when nearly reached, always shown
    ("hours", None, True),
    ("shifts", TODAY + timedelta(days=400), True),
])
def test_which_upcoming_milestones_today_shows(console, measure, expected_on, shown):
    console.register("henk", "Henk Verweij")
    console.announce("henk", f"{measure}-5", 4, expected_on)
    page = console.signed_in().get("/").text
    assert ("Henk Verweij" in upcoming_section(page)) is shown


def test_today_lists_them_soonest_first_in_words_with_what_will_be_sent(console):
    for volunteer_id, name in (("henk", "Henk"), ("wim", "Wim"), ("anna", "Anna"), ("zoe", "Zoë")):
        console.register(volunteer_id, name)
    console.announce("wim", "shifts-50", 48, sends=[{"notification": "milestone-card", "audience": "volunteer"}])
    console.announce("henk", "years-5", 4, date(2026, 12, 4), sends=[
        {"notification": "coordinator-reminder", "audience": "coordinator", "on": "2026-11-27"},
        {"notification": "service-anniversary", "audience": "volunteer", "on": "2026-12-04"},
        {"notification": "lunch-invitation", "audience": "volunteer", "on": "2026-12-04"}])
    console.announce("anna", "hours-100", 97.5)
    console.announce("zoe", "years-10", 9, date(2026, 12, 2))
    html = console.signed_in().get("/").text
    page = upcoming_section(html)
    order = [page.index(f" {name} · ") for name in ("Zoë", "Henk", "Anna", "Wim")]
    assert order == sorted(order)  # dated by date, then the undated by name
    assert "5 jaar vrijwilliger op 4 december 2026" in page and "nu 4 van 5" in page
    assert "Herinnering aan de coördinator op 27 november 2026" in page
    assert "Jubileumkaart aan de vrijwilliger op 4 december 2026" in page
    assert "Lunchuitnodiging aan de vrijwilliger op 4 december 2026" in page
    assert "50 diensten" in page and "nu 48 van 50" in page
    assert "Mijlpaalkaart aan de vrijwilliger zodra de mijlpaal bereikt is" in page
    assert "100 uur" in page and "nu 97,5 van 100" in page
    assert "dankjewel stuurt hiervoor niets." in page  # Anna's and Zoë's: nothing to send
    assert '<a href="/volunteers/henk"><strong>Henk</strong></a>' in html


def test_the_newest_announcement_replaces_and_the_reached_milestone_removes_it(console):
    console.register("wim", "Wim")
    console.announce("wim", "shifts-10", 9)
    console.announce("wim", "years-5", 4, date(2027, 3, 10))
    console.announce("wim", "shifts-25", 23)  # the shifts-10 was reached meanwhile
    assert console.rows("wim") == {"shifts": "shifts-25", "years": "years-5"}
    console.reach("wim", "shifts-10")  # an older milestone: the newer announcement stays
    assert console.rows("wim") == {"shifts": "shifts-25", "years": "years-5"}
    console.reach("wim", "shifts-25")
    assert console.rows("wim") == {"years": "years-5"}
    console.announce("wim", "shifts-25", 24)  # announced before it was reached, consumed after: out of date
    assert console.rows("wim") == {"years": "years-5"}


def test_erasure_removes_them_and_nothing_comes_back(console):
    console.register("henk", "Henk")
    console.announce("henk", "years-5", 4, TODAY + timedelta(days=3))
    console.publish(VOLUNTEER_ERASED, handlers.erase, volunteer_id="henk", requested_at=NOW.isoformat())
    assert console.rows("henk") == {}
    console.announce("henk", "shifts-50", 49)
    assert console.rows("henk") == {}


def test_mine_shows_only_my_volunteers_and_a_stopped_one_says_so(console):
    console.register("henk", "Henk")
    console.register("truus", "Truus", coordinator="kees@example.org")
    for volunteer_id in ("henk", "truus"):
        console.announce(volunteer_id, "shifts-50", 49)
    console.publish(VOLUNTEER_UPDATED, handlers.apply_update, volunteer_id="henk", active=False,
                    updated_at=NOW.isoformat())
    ria = console.signed_in()
    everyone, mine = upcoming_section(ria.get("/").text), upcoming_section(ria.get("/?mine=true").text)
    assert "Truus" in everyone and "Henk" in everyone
    assert "Truus" not in mine and "Henk" in mine
    assert "(gestopt)" in mine


def test_everything_is_escaped(console):
    console.register("henk", "Henk <script>alert(1)</script>")
    console.announce("henk", "shifts-50", 49, sends=[{"notification": "<b>gift</b>", "audience": "volunteer"}])
    page = console.signed_in().get("/").text
    assert "<script>alert(1)" not in page and "<b>gift" not in page
    assert "Henk &lt;script&gt;" in page and "&lt;b&gt;gift&lt;/b&gt; aan de vrijwilliger" in page


def test_the_volunteer_page_shows_their_next_milestones_whatever_the_date(console):
    console.register("henk", "Henk")
    console.announce("henk", "years-5", 4, date(2027, 6, 1))  # too far ahead for Today
    console.announce("henk", "shifts-50", 12)
    ria = console.signed_in()
    page = " ".join(re.sub(r"<[^>]+>", " ", ria.get("/volunteers/henk").text).split())
    assert "Volgende mijlpalen" in page and "5 jaar vrijwilliger op 1 juni 2027" in page and "50 diensten" in page
    assert page.index("5 jaar vrijwilliger") < page.index("50 diensten")
    today = upcoming_section(ria.get("/").text)
    assert "50 diensten" in today and "5 jaar vrijwilliger" not in today
    console.register("wim", "Wim")
    assert "Geen mijlpaal aangekondigd." in ria.get("/volunteers/wim").text


def test_today_in_english(console):
    console.register("henk", "Henk")
    console.announce("henk", "years-5", 4, date(2026, 12, 4), sends=[
        {"notification": "service-anniversary", "audience": "volunteer", "on": "2026-12-04"}])
    page = upcoming_section(console.signed_in(ADMIN).get("/").text)
    assert "5 years of service on 4 December 2026" in page and "now 4 of 5" in page
    assert "Anniversary card to the volunteer on 4 December 2026" in page


# ---------------------------------------------------------------- export


def test_only_admins_export_and_the_console_alone_says_what_it_left_out(console, caplog):
    console.register("henk", "Henk")
    console.announce("henk", "years-5", 4, date(2026, 12, 4))
    ria = console.signed_in()
    page = ria.get("/volunteers/henk").text
    assert "/volunteers/henk/export" not in page  # coordinators see no export
    assert ria.post("/volunteers/henk/export", data={"csrf": csrf(page)}).status_code == 403

    bert = console.signed_in(ADMIN)
    page = bert.get("/volunteers/henk").text
    assert "the console&#39;s own tables only" in page and "dankjewel export henk" in page
    assert bert.post("/volunteers/henk/export", data={}).status_code == 403  # no CSRF token
    assert bert.post("/volunteers/nobody/export", data={"csrf": csrf(page)}).status_code == 404
    caplog.set_level(logging.INFO)
    download = bert.post("/volunteers/henk/export", data={"csrf": csrf(page)})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == 'attachment; filename="dankjewel-henk.json"'
    assert download.headers["cache-control"] == "no-store"
    document = download.json()
    assert document["volunteer_id"] == "henk" and list(document["services"]) == ["console"]
    tables = document["services"]["console"]
    assert tables["console_volunteers"][0]["name"] == "Henk"
    assert tables["console_upcoming"][0]["milestone"] == "years-5"
    assert "dankjewel export henk" in document["note"]
    logged = [r.getMessage() for r in caplog.records if "exported" in r.getMessage()]
    assert logged and all("@" not in line and "Henk" not in line for line in logged)


def test_under_run_all_the_export_holds_every_service(console):
    console.register("henk", "Henk")
    asked = []

    async def everywhere(volunteer_id: str) -> dict:
        asked.append(volunteer_id)
        return {"volunteer_id": volunteer_id, "services": {"registration": {"registration_volunteers": []},
                                                             "console": {"console_volunteers": []}}}

    console.runtime.export_everywhere = everywhere
    bert = console.signed_in(ADMIN)
    page = bert.get("/volunteers/henk").text
    assert "everything dankjewel holds about this volunteer, in every service" in page
    document = json.loads(bert.post("/volunteers/henk/export", data={"csrf": csrf(page)}).content)
    assert asked == ["henk"] and set(document["services"]) == {"registration", "console"}
    assert "note" not in document
