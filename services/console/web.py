"""The coordinator console's pages: Today, a volunteer, search, and acting on alerts.

Server-rendered HTML with plain forms (no JavaScript needed). Every page needs a
signed-in person (services/console/accounts.py); every form carries its CSRF token.
What a coordinator does is published as events, like every other service's writes:
"I spoke to them" is a `checkins.completed`, "I'll take this" an `alerts.acknowledged`,
a to-do's "Done" a `todos.done` and "Snooze a week" a `todos.snoozed`. Admins also
erase (`volunteers.erased`) and export (a JSON download; see `export_volunteer_data`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from services.console import accounts, domain, usecases
from services.console.texts import Words, long_date, milestone_words, planned_mail, standing, todo_sentence
from shared.contracts import TodoDone
from shared.http import refusals
from shared.service import ServiceRuntime
from shared.values import SafeId

TEMPLATES = Path(__file__).parent / "templates"
TODAY_ALERTS = 200  # the oldest first; more are behind "show all"
TODAY_UPCOMING = 100  # the soonest first; likewise
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

    def local_today():  # noqa: ANN202 - a date
        return runtime.clock().astimezone(runtime.settings.timezone).date()

    @router.get("/", response_class=HTMLResponse)
    async def today(request: Request, mine: bool = False, everything: bool = False, done: str | None = None,
                    person: accounts.Person = signed_in) -> HTMLResponse:
        now = runtime.clock()
        day = local_today()
        async with runtime.sessions() as session:
            shown = await usecases.today(session, day, coordinator=person.email if mine else None,
                                         alerts_shown=None if everything else TODAY_ALERTS,
                                         upcoming_shown=None if everything else TODAY_UPCOMING)
        coming_up = [describe_upcoming(row, person.language) for row in shown.upcoming]
        return page(request, person, "today.html", alerts=shown.alerts, total=shown.total, mine=mine,
                    upcoming=coming_up, upcoming_total=shown.upcoming_total, now=now, taken_by=shown.taken_by,
                    days=domain.UPCOMING_DAYS, suggestion=domain.suggestion, todos=shown.todos, today=day, done=done,
                    back="mine" if mine else "today")

    @router.get("/search", response_class=HTMLResponse)
    async def search(request: Request, q: str = "", person: accounts.Person = signed_in) -> HTMLResponse:
        q = q.strip()[:100]
        found = []
        if q:
            async with runtime.sessions() as session:
                found = await usecases.search(session, q)
        return page(request, person, "search.html", q=q, found=found)

    @router.get("/volunteers/{volunteer_id}", response_class=HTMLResponse)
    async def volunteer(request: Request, volunteer_id: SafeId, done: str | None = None,
                        person: accounts.Person = signed_in) -> HTMLResponse:
        with refusals():  # 404 for an unknown id, 410 for an erased one
            async with runtime.sessions() as session:
                shown = await usecases.volunteer_page(session, volunteer_id)
        return page(request, person, "volunteer.html", volunteer=shown.volunteer, history=shown.history,
                    alerts=shown.alerts,
                    upcoming=[describe_upcoming(milestone, person.language) for milestone in shown.upcoming],
                    exports_everything=runtime.export_everywhere is not None,
                    taken_by=shown.taken_by, done=done, suggestion=domain.suggestion, now=runtime.clock(),
                    todos=shown.todos, done_todos=shown.done_todos, today=local_today(), back="volunteer")

    def back_to(request: Request, volunteer_id: str, done: str) -> RedirectResponse:
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/volunteers/{volunteer_id}?done={done}", status.HTTP_303_SEE_OTHER)

    @router.post("/alerts/{alert_id}/spoke")
    async def spoke_to_volunteer(request: Request, alert_id: int, csrf: Annotated[str | None, Form()] = None,
                                 person: accounts.Person = signed_in) -> RedirectResponse:
        """"I spoke to them": a held check-in, so the clock closes and nothing escalates."""
        accounts.check_csrf(person, csrf)
        with refusals():
            async with runtime.unit() as unit:
                volunteer_id = await usecases.spoke_to_volunteer(unit, alert_id)
        return back_to(request, volunteer_id, "spoke")

    @router.post("/alerts/{alert_id}/take")
    async def take_alert(request: Request, alert_id: int, csrf: Annotated[str | None, Form()] = None,
                         person: accounts.Person = signed_in) -> RedirectResponse:
        """"I'll take this": the other coordinators see it is in hand."""
        accounts.check_csrf(person, csrf)
        with refusals():
            async with runtime.unit() as unit:
                volunteer_id = await usecases.take_alert(unit, alert_id, domain.account_ref(person.email))
        return back_to(request, volunteer_id, "taken")

    def after_todo(request: Request, volunteer_id: str, todo_id: str, back: str | None,
                   done: str) -> RedirectResponse:
        """303 back to where the to-do's form was (its `back` field)."""
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
        try:  # the note is checked as the event checks it, before anything changes
            checked = TodoDone(volunteer_id=volunteer_id, todo_id=todo_id, done_at=runtime.clock(),
                               by=domain.account_ref(person.email), note=(note or "").strip() or None)
        except ValidationError:
            return RedirectResponse(f"{request.scope.get('root_path', '')}/volunteers/{volunteer_id}"
                                    f"?done=note-refused#todo-{todo_id}", status.HTTP_303_SEE_OTHER)
        with refusals():
            async with runtime.unit() as unit:
                await usecases.mark_todo_done(unit, checked)
        return after_todo(request, volunteer_id, todo_id, back, "todo-done")

    @router.post("/volunteers/{volunteer_id}/todos/{todo_id}/snooze")
    async def todo_snooze(request: Request, volunteer_id: SafeId, todo_id: SafeId,
                          csrf: Annotated[str | None, Form()] = None, back: Annotated[str | None, Form()] = None,
                          person: accounts.Person = signed_in) -> RedirectResponse:
        """"Snooze a week": hidden from Today, and not overdue, until a week from today."""
        accounts.check_csrf(person, csrf)
        with refusals():
            async with runtime.unit() as unit:
                await usecases.snooze_todo(unit, volunteer_id, todo_id, local_today(), domain.account_ref(person.email))
        return after_todo(request, volunteer_id, todo_id, back, "todo-snoozed")

    @router.post("/language")
    async def choose_language(request: Request, language: Annotated[str, Form()],
                              csrf: Annotated[str | None, Form()] = None,
                              person: accounts.Person = signed_in) -> RedirectResponse:
        """Each coordinator reads the console in their own language (kept on their account)."""
        accounts.check_csrf(person, csrf)
        if language not in domain.LANGUAGES:
            raise HTTPException(422, detail="language must be nl or en")
        async with runtime.engine.begin() as connection:
            await usecases.choose_language(connection, person.email, language)
        return RedirectResponse(f"{request.scope.get('root_path', '')}/", status.HTTP_303_SEE_OTHER)

    @router.post("/volunteers/{volunteer_id}/export")
    async def export_volunteer_data(request: Request, volunteer_id: SafeId,
                                    csrf: Annotated[str | None, Form()] = None,
                                    person: accounts.Person = signed_in) -> Response:
        """Admins only: the person's data as a JSON download (GDPR art. 15/20). Every
        service's under `run all` (`dankjewel run all` gives each runtime
        `export_everywhere`, the assembly behind its /volunteers/{id}/export); else the
        console's own, saying so and where the rest is."""
        accounts.check_csrf(person, csrf)
        if person.role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only administrators export volunteers' data")
        with refusals():
            async with runtime.engine.connect() as connection:
                document = await usecases.export(connection, volunteer_id, service=runtime.name,
                                                 everywhere=runtime.export_everywhere,
                                                 by=domain.account_ref(person.email), now=runtime.clock())
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
            await usecases.request_erasure(unit, volunteer_id)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/?erased=1", status.HTTP_303_SEE_OTHER)

    return router


def since(moment, now) -> int:  # noqa: ANN001
    """Whole days from `moment` to `now` (for "overdue for 9 days")."""
    return max(0, (now - moment) // timedelta(days=1))
