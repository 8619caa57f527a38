"""The coordinator console's pages: Today, a volunteer, search, and acting on alerts.

Server-rendered HTML with plain forms (no JavaScript needed). Every page needs a
signed-in person (services/console/accounts.py); every form carries its CSRF token.
What a coordinator does is published as events, like every other service's writes:
"I spoke to them" is a `checkins.completed`, "I'll take this" an `alerts.acknowledged`,
a to-do's "Done" a `todos.done` and "Snooze a week" a `todos.snoozed`. Admins also
erase (`volunteers.erased`) and export (a JSON download; see `export_volunteer_data`)."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from sqlalchemy import func, or_, select

from services.console import accounts, domain
from services.console.tables import alerts, metadata, timeline, todos, upcoming, users, volunteers
from services.console.texts import Words, long_date, milestone_words, planned_mail, standing, todo_sentence
from shared.contracts import (
    ALERT_ACKNOWLEDGED,
    CHECKIN_COMPLETED,
    TODO_DONE,
    TODO_SNOOZED,
    VOLUNTEER_ERASED,
    AlertAcknowledged,
    CheckinCompleted,
    TodoDone,
    TodoSnoozed,
    VolunteerErased,
)
from shared.privacy import export_volunteer
from shared.service import ServiceRuntime
from shared.values import SafeId

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
TODAY_ALERTS = 200  # the oldest first; more are behind "show all"
TODAY_UPCOMING = 100  # the soonest first; likewise
UPCOMING_DAYS = 30  # anniversaries this many days ahead (today and the 30th day included) show on Today
# Where a to-do's form returns to (its hidden `back` field); anything else: the volunteer.
BACK_TO = {"today": "/", "mine": "/?mine=true"}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class UpcomingMilestone:
    """One row of "milestones coming up", in the reader's language (escaped by the template)."""

    volunteer_id: str
    name: str | None
    active: bool
    what: str  # "50 diensten", "5 years of service"
    standing: str  # "nu 48 van 50"
    expected_on: date | None
    sends: list[str]  # "Jubileumkaart aan de vrijwilliger op 4 december 2026", …


def describe_upcoming(row, language: str) -> UpcomingMilestone:  # noqa: ANN001 - a console_upcoming row
    """A console_upcoming row (joined with the volunteer's name and active) in words."""
    sends = []
    for mail in row.sends or []:
        on = mail.get("on")
        sends.append(planned_mail(str(mail.get("notification")), str(mail.get("audience")),
                                  date.fromisoformat(on) if on else None, language))
    return UpcomingMilestone(
        volunteer_id=row.volunteer_id, name=row.name, active=bool(row.active),
        what=milestone_words(row.measure, row.threshold, row.milestone, language),
        standing=standing(row.value, row.threshold, language), expected_on=row.expected_on, sends=sends)


def upcoming_query():  # noqa: ANN201 - a Select
    """Upcoming milestones with the volunteer's name, soonest first: dated ones (years
    of service) by date, then the undated (shift and hour counts) by name."""
    return (select(upcoming, volunteers.c.name, volunteers.c.active)
            .join(volunteers, volunteers.c.volunteer_id == upcoming.c.volunteer_id)
            .where(volunteers.c.erased_at.is_(None))
            .order_by(upcoming.c.expected_on.asc().nulls_last(), volunteers.c.name, upcoming.c.volunteer_id,
                      upcoming.c.measure))


def on_today(day: date):  # noqa: ANN201 - a WHERE clause
    """Which upcoming milestones Today shows: years of service within UPCOMING_DAYS of
    the organisation's `day`; shift and hour counts always (appreciation announces
    them only when nearly reached)."""
    return or_(upcoming.c.measure != "years",
               upcoming.c.expected_on.between(day, day + timedelta(days=UPCOMING_DAYS)))


def account_ref(email: str) -> str:
    """The opaque id a coordinator is named by in events (their address stays here)."""
    return "u-" + hashlib.sha256(email.encode()).hexdigest()[:16]


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    person_required = accounts.person_required(runtime)
    signed_in = Depends(person_required)  # every page: a signed-in person, else the sign-in page

    def page(request: Request, person: accounts.Person, template: str, **values) -> HTMLResponse:
        language = person.language
        body = _environment().get_template(template).render(
            t=Words(language), language=language, base=request.scope.get("root_path", ""),
            person=person, since=since, long_date=lambda day: long_date(day, language),
            todo_sentence=lambda todo, name: todo_sentence(todo.action, name, todo.due_on, language), **values)
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    async def coordinators(session) -> dict[str, str]:  # noqa: ANN001
        """Account refs → addresses, to show who took an alert on."""
        return {account_ref(row.email): row.email for row in await session.execute(select(users.c.email))}

    def local_today():  # noqa: ANN202 - a date
        return runtime.clock().astimezone(runtime.settings.timezone).date()

    @router.get("/", response_class=HTMLResponse)
    async def today(request: Request, mine: bool = False, everything: bool = False, done: str | None = None,
                    person: accounts.Person = signed_in) -> HTMLResponse:
        now = runtime.clock()
        day = local_today()
        # Open to-dos, the oldest date first; a snoozed one is hidden until its snooze ends.
        todo_query = (select(todos, volunteers.c.name)
                      .join(volunteers, volunteers.c.volunteer_id == todos.c.volunteer_id)
                      .where(todos.c.status == "open",
                             or_(todos.c.snoozed_until.is_(None), todos.c.snoozed_until <= day))
                      .order_by(todos.c.due_on, todos.c.volunteer_id, todos.c.todo_id))
        query = (select(alerts, volunteers.c.name, volunteers.c.coordinator_email.label("volunteer_coordinator"))
                 .join(volunteers, volunteers.c.volunteer_id == alerts.c.volunteer_id)
                 .where(alerts.c.closed_at.is_(None)).order_by(alerts.c.due_since, alerts.c.id))
        counting = select(func.count()).select_from(alerts).join(
            volunteers, volunteers.c.volunteer_id == alerts.c.volunteer_id).where(alerts.c.closed_at.is_(None))
        if mine:
            query = query.where(volunteers.c.coordinator_email == person.email)
            counting = counting.where(volunteers.c.coordinator_email == person.email)
            todo_query = todo_query.where(volunteers.c.coordinator_email == person.email)
        async with runtime.sessions() as session:
            open_alerts = (await session.execute(query if everything else query.limit(TODAY_ALERTS))).all()
            open_todos = (await session.execute(todo_query)).all()
            total = await session.scalar(counting)
            coming = upcoming_query().where(on_today(day))
            if mine:
                coming = coming.where(volunteers.c.coordinator_email == person.email)
            coming_rows = (await session.execute(coming if everything else coming.limit(TODAY_UPCOMING))).all()
            upcoming_total = await session.scalar(select(func.count()).select_from(coming.order_by(None).subquery()))
            names = await coordinators(session)
        coming_up = [describe_upcoming(row, person.language) for row in coming_rows]
        return page(request, person, "today.html", alerts=open_alerts, total=total, mine=mine,
                    upcoming=coming_up, upcoming_total=upcoming_total, now=now, taken_by=names, days=UPCOMING_DAYS,
                    suggestion=domain.suggestion, todos=open_todos, today=day, done=done,
                    back="mine" if mine else "today")

    @router.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: str = "", person: accounts.Person = signed_in) -> HTMLResponse:
        q = q.strip()[:100]
        found = []
        if q:
            key = domain.search_key(q).replace("\\", "").replace("%", "").replace("_", " ")
            async with runtime.sessions() as session:
                found = (await session.execute(
                    select(volunteers.c.volunteer_id, volunteers.c.name, volunteers.c.shift_count,
                           volunteers.c.coordinator_email)
                    .where(volunteers.c.search_key.contains(key), volunteers.c.erased_at.is_(None))
                    .order_by(volunteers.c.search_key).limit(50))).all()
        return page(request, person, "search.html", q=q, found=found)

    @router.get("/volunteers/{volunteer_id}", response_class=HTMLResponse)
    async def volunteer(request: Request, volunteer_id: SafeId, done: str | None = None,
                        person: accounts.Person = signed_in) -> HTMLResponse:
        async with runtime.sessions() as session:
            row = (await session.execute(select(volunteers).where(volunteers.c.volunteer_id == volunteer_id))).first()
            if row is None or row.erased_at is not None:
                raise HTTPException(status.HTTP_404_NOT_FOUND if row is None else status.HTTP_410_GONE)
            history = (await session.execute(select(timeline).where(timeline.c.volunteer_id == volunteer_id)
                                             .order_by(timeline.c.at.desc(), timeline.c.id.desc()).limit(500))).all()
            open_alerts = (await session.execute(select(alerts).where(
                alerts.c.volunteer_id == volunteer_id, alerts.c.closed_at.is_(None)).order_by(alerts.c.due_since))).all()
            its_todos = (await session.execute(select(todos).where(todos.c.volunteer_id == volunteer_id)
                                               .order_by(todos.c.due_on, todos.c.todo_id))).all()
            next_milestones = (await session.execute(
                upcoming_query().where(upcoming.c.volunteer_id == volunteer_id))).all()
            names = await coordinators(session)
        return page(request, person, "volunteer.html", volunteer=row, history=history, alerts=open_alerts,
                    upcoming=[describe_upcoming(milestone, person.language) for milestone in next_milestones],
                    exports_everything=exporter() is not None,
                    taken_by=names, done=done, suggestion=domain.suggestion, now=runtime.clock(),
                    todos=[todo for todo in its_todos if todo.status == "open"],
                    done_todos=[todo for todo in its_todos if todo.status == "done"], today=local_today(),
                    back="volunteer")

    async def open_alert(session, alert_id: int):  # noqa: ANN001, ANN202 - a Row
        alert = (await session.execute(select(alerts).where(alerts.c.id == alert_id).with_for_update())).first()
        if alert is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        return alert

    def back_to(request: Request, volunteer_id: str, done: str) -> RedirectResponse:
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/volunteers/{volunteer_id}?done={done}", status.HTTP_303_SEE_OTHER)

    async def act_on_alert(request: Request, alert_id: int, csrf: str | None, person: accounts.Person,
                           action, done: str) -> RedirectResponse:  # noqa: ANN001
        accounts.check_csrf(person, csrf)
        async with runtime.unit() as unit:
            alert = await open_alert(unit.session, alert_id)
            if alert.closed_at is None:  # closed meanwhile (a check-in came in): nothing left to do
                await action(unit, alert)
        return back_to(request, alert.volunteer_id, done)

    @router.post("/alerts/{alert_id}/spoke")
    async def spoke_to_volunteer(request: Request, alert_id: int, csrf: Annotated[str | None, Form()] = None,
                                 person: accounts.Person = signed_in) -> RedirectResponse:
        """"I spoke to them": a held check-in, so the clock closes and nothing escalates."""
        async def record_checkin(unit, alert) -> None:  # noqa: ANN001
            await unit.emit(CHECKIN_COMPLETED, CheckinCompleted(
                volunteer_id=alert.volunteer_id, checkin_id=f"console-{uuid.uuid4()}",
                kind=domain.checkin_kind_for(alert.reason), held_at=unit.now))

        return await act_on_alert(request, alert_id, csrf, person, record_checkin, "spoke")

    @router.post("/alerts/{alert_id}/take")
    async def take_alert(request: Request, alert_id: int, csrf: Annotated[str | None, Form()] = None,
                         person: accounts.Person = signed_in) -> RedirectResponse:
        """"I'll take this": the other coordinators see it is in hand."""
        async def acknowledge(unit, alert) -> None:  # noqa: ANN001
            if alert.acknowledged_at is not None:
                return
            by = account_ref(person.email)
            await unit.session.execute(alerts.update().where(alerts.c.id == alert.id).values(
                acknowledged_at=unit.now, acknowledged_by=by))
            await unit.emit(ALERT_ACKNOWLEDGED, AlertAcknowledged(
                volunteer_id=alert.volunteer_id, reason=alert.reason, due_since=alert.due_since,
                acknowledged_at=unit.now, by=by))

        return await act_on_alert(request, alert_id, csrf, person, acknowledge, "taken")

    async def act_on_todo(request: Request, volunteer_id: str, todo_id: str, csrf: str | None,  # noqa: ANN001
                          person: accounts.Person, back: str | None, action, done: str) -> RedirectResponse:
        """Change an open to-do and publish what was done, in one transaction; then 303 back."""
        accounts.check_csrf(person, csrf)
        async with runtime.unit() as unit:
            todo = (await unit.session.execute(select(todos).where(
                todos.c.volunteer_id == volunteer_id, todos.c.todo_id == todo_id).with_for_update())).first()
            if todo is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND)
            if todo.status == "open":  # done meanwhile (a double click, a colleague): nothing left to do
                await action(unit, todo)
        root = request.scope.get("root_path", "")
        if back in BACK_TO:
            target = BACK_TO[back]
            return RedirectResponse(f"{root}{target}{'&' if '?' in target else '?'}done={done}#todos",
                                    status.HTTP_303_SEE_OTHER)
        return RedirectResponse(f"{root}/volunteers/{volunteer_id}?done={done}#todo-{todo_id}",
                                status.HTTP_303_SEE_OTHER)

    @router.post("/volunteers/{volunteer_id}/todos/{todo_id}/done")
    async def todo_done(request: Request, volunteer_id: SafeId, todo_id: SafeId,
                        csrf: Annotated[str | None, Form()] = None, note: Annotated[str | None, Form()] = None,
                        back: Annotated[str | None, Form()] = None,
                        person: accounts.Person = signed_in) -> RedirectResponse:
        """"Done", with an optional note: published as todos.done."""
        accounts.check_csrf(person, csrf)
        by = account_ref(person.email)
        try:  # the note is checked as the event checks it, before anything changes
            checked = TodoDone(volunteer_id=volunteer_id, todo_id=todo_id, done_at=runtime.clock(), by=by,
                               note=(note or "").strip() or None)
        except ValidationError:
            return RedirectResponse(f"{request.scope.get('root_path', '')}/volunteers/{volunteer_id}"
                                    f"?done=note-refused#todo-{todo_id}", status.HTTP_303_SEE_OTHER)

        async def mark_done(unit, todo) -> None:  # noqa: ANN001
            await unit.session.execute(todos.update().where(
                todos.c.volunteer_id == todo.volunteer_id, todos.c.todo_id == todo.todo_id).values(
                status="done", done_at=unit.now, done_by=by, note=checked.note))
            await unit.emit(TODO_DONE, checked.model_copy(update={"done_at": unit.now}))

        return await act_on_todo(request, volunteer_id, todo_id, csrf, person, back, mark_done, "todo-done")

    @router.post("/volunteers/{volunteer_id}/todos/{todo_id}/snooze")
    async def todo_snooze(request: Request, volunteer_id: SafeId, todo_id: SafeId,
                          csrf: Annotated[str | None, Form()] = None, back: Annotated[str | None, Form()] = None,
                          person: accounts.Person = signed_in) -> RedirectResponse:
        """"Snooze a week": hidden from Today, and not overdue, until a week from today."""
        async def snooze(unit, todo) -> None:  # noqa: ANN001
            until = local_today() + domain.SNOOZE
            await unit.session.execute(todos.update().where(
                todos.c.volunteer_id == todo.volunteer_id, todos.c.todo_id == todo.todo_id).values(
                snoozed_until=until))
            await unit.emit(TODO_SNOOZED, TodoSnoozed(volunteer_id=todo.volunteer_id, todo_id=todo.todo_id,
                                                      until=until, by=account_ref(person.email)))

        return await act_on_todo(request, volunteer_id, todo_id, csrf, person, back, snooze, "todo-snoozed")

    @router.post("/language")
    async def choose_language(request: Request, language: Annotated[str, Form()],
                              csrf: Annotated[str | None, Form()] = None,
                              person: accounts.Person = signed_in) -> RedirectResponse:
        """Each coordinator reads the console in their own language (kept on their account)."""
        accounts.check_csrf(person, csrf)
        if language not in accounts.LANGUAGES:
            raise HTTPException(422, detail="language must be nl or en")
        async with runtime.engine.begin() as connection:
            await connection.execute(users.update().where(users.c.email == person.email).values(language=language))
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", status.HTTP_303_SEE_OTHER)

    def exporter():  # noqa: ANN202
        """What every service in this process holds about a person, when the services
        run in one process (`dankjewel run all` gives each runtime `export_everywhere`,
        the assembly behind its /volunteers/{id}/export); None when the console runs alone."""
        return runtime.export_everywhere

    @router.post("/volunteers/{volunteer_id}/export")
    async def export_volunteer_data(request: Request, volunteer_id: SafeId,
                                    csrf: Annotated[str | None, Form()] = None,
                                    person: accounts.Person = signed_in) -> Response:
        """Admins only: the person's data as a JSON download (GDPR art. 15/20). Every
        service's under `run all`; else the console's own, saying so and where the rest is."""
        accounts.check_csrf(person, csrf)
        if person.role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only administrators export volunteers' data")
        async with runtime.engine.connect() as connection:
            known = await connection.scalar(select(volunteers.c.volunteer_id).where(
                volunteers.c.volunteer_id == volunteer_id))
            if known is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND)
            everywhere = exporter()
            if everywhere is None:
                services = {runtime.name: await export_volunteer(connection, metadata, volunteer_id)}
        document = {"volunteer_id": volunteer_id, "exported_at": runtime.clock().isoformat()}
        if everywhere is not None:
            services = (await everywhere(volunteer_id))["services"]
        else:
            document["note"] = (
                "Only the console's own tables: it reads no other service's tables and was not given their "
                "export (that needs the services in one process, with `run all` handing it over). For everything, "
                f"run `dankjewel export {volunteer_id}` with a DATABASE_URL that reaches every service's tables, or "
                f"ask GET /volunteers/{volunteer_id}/export of `dankjewel run all` with an admin token.")
        document["services"] = services
        log.info("console: volunteer %s exported by account %s (%s)", volunteer_id, account_ref(person.email),
                 "every service" if everywhere is not None else "the console's tables only")
        return Response(json.dumps(document, indent=2, ensure_ascii=False) + "\n", media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="dankjewel-{volunteer_id}.json"',
                                 "Cache-Control": "no-store"})

    @router.post("/volunteers/{volunteer_id}/erase")
    async def erase_volunteer(request: Request, volunteer_id: SafeId, csrf: Annotated[str | None, Form()] = None,
                              confirm: Annotated[str | None, Form()] = None,
                              person: accounts.Person = signed_in) -> RedirectResponse:
        """Admins only: erase the person in every service (publishes volunteers.erased)."""
        accounts.check_csrf(person, csrf)
        if person.role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only administrators erase volunteers")
        if confirm != volunteer_id:
            return back_to(request, volunteer_id, "confirm-erase")
        async with runtime.unit() as unit:
            await unit.forget_pending_events(volunteer_id)
            await unit.emit(VOLUNTEER_ERASED, VolunteerErased(volunteer_id=volunteer_id, requested_at=unit.now))
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/?erased=1", status.HTTP_303_SEE_OTHER)

    return router


def since(moment, now) -> int:  # noqa: ANN001
    """Whole days from `moment` to `now` (for "overdue for 9 days")."""
    return max(0, (now - moment) // timedelta(days=1))
