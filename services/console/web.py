"""The coordinator console's pages: Today, a volunteer, search, and acting on alerts.

Server-rendered HTML with plain forms (no JavaScript needed). Every page needs a
signed-in person (services/console/accounts.py); every form carries its CSRF token.
What a coordinator does is published as events, like every other service's writes:
"I spoke to them" is a `checkins.completed`, "I'll take this" an `alerts.acknowledged`,
a to-do's "Done" a `todos.done` and "Snooze a week" a `todos.snoozed`."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from sqlalchemy import func, or_, select

from services.console import accounts, domain
from services.console.tables import alerts, timeline, todos, users, volunteers
from services.console.texts import Words, long_date, todo_sentence
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
from shared.service import ServiceRuntime
from shared.values import SafeId

TEMPLATES = Path(__file__).parent / "templates"
TODAY_ALERTS = 200  # the oldest first; more are behind "show all"
TODAY_UPCOMING = 100  # the soonest first; likewise
UPCOMING_DAYS = 30
# Where a to-do's form returns to (its hidden `back` field); anything else: the volunteer.
BACK_TO = {"today": "/", "mine": "/?mine=true"}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


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
            people = select(volunteers.c.volunteer_id, volunteers.c.name, volunteers.c.service_started_on,
                            volunteers.c.coordinator_email).where(
                volunteers.c.erased_at.is_(None), volunteers.c.active.is_(True),
                volunteers.c.service_started_on.is_not(None))
            if mine:
                people = people.where(volunteers.c.coordinator_email == person.email)
            upcoming = []
            window = domain.days_of_year_ahead(day, UPCOMING_DAYS)  # a cheap test before the exact one
            for row in await session.execute(people):
                started = row.service_started_on
                if (started.month, started.day) in window:
                    anniversary = domain.next_anniversary(started, day, UPCOMING_DAYS)  # the organisation's today
                    if anniversary is not None:
                        upcoming.append((anniversary, row))
            names = await coordinators(session)
        upcoming.sort(key=lambda pair: (pair[0].on, pair[1].name or ""))
        upcoming_total = len(upcoming)
        if not everything:
            upcoming = upcoming[:TODAY_UPCOMING]
        return page(request, person, "today.html", alerts=open_alerts, total=total, mine=mine,
                    upcoming=upcoming, upcoming_total=upcoming_total, now=now, taken_by=names, days=UPCOMING_DAYS,
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
            names = await coordinators(session)
        return page(request, person, "volunteer.html", volunteer=row, history=history, alerts=open_alerts,
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
