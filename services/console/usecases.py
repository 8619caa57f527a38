"""What the coordinator console does, one function per thing: load through the store,
ask the domain, store the changes, emit events (outbox, same transaction). Nothing
here logs names or e-mail addresses.

The read model: the console keeps only what coordinators look at (a volunteer's name
for search, language, coordinator and counts; open alerts; to-dos; upcoming
milestones; a timeline of ids, dates and kinds), built from consumed events; it never
reads another service's tables. Every event is noted on the timeline once, under its
source and id, so a redelivery changes nothing; an erased volunteer keeps a bare id
and late events bring nothing back.

The pages' writes are published like every other service's: "I spoke to them" is a
`checkins.completed`, "I'll take this" an `alerts.acknowledged`, a to-do's "Done" a
`todos.done` and "Snooze a week" a `todos.snoozed`. Taking an alert and the to-do's
forms change the row here in the same transaction; their echo finds it changed."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.console import domain, store
from services.console.domain import AccountError
from shared.contracts import (
    ALERT_ACKNOWLEDGED,
    CHECKIN_COMPLETED,
    TODO_DONE,
    TODO_OVERDUE,
    TODO_SNOOZED,
    VOLUNTEER_ERASED,
    AlertAcknowledged,
    AlertRaised,
    AppreciationSent,
    AppreciationSentV2,
    CheckinCompleted,
    HelpOffered,
    MilestoneReached,
    MilestoneUpcoming,
    ShiftCompleted,
    ShiftMissed,
    TodoDone,
    TodoOpened,
    TodoOverdue,
    TodoSnoozed,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.delivery import Unit
from shared.refusals import Erased, NotFound  # what the pages turn into answers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heard:
    """Which consumed event a fact came in: its timeline key (source and id: noted
    once, whatever is redelivered) and its time (None: the unit's now)."""

    key: str
    time: datetime | None


# --- consumed events -------------------------------------------------------------------------


async def _known_and_not_erased(unit: Unit, volunteer_id: str) -> bool:
    """Make sure the volunteer has a row (events may come before the registration);
    False when they were erased: nothing more is kept about them."""
    await store.add_volunteer(unit.session, volunteer_id, active=True)
    return (await store.volunteer(unit.session, volunteer_id)).erased_at is None


async def _note(unit: Unit, volunteer_id: str, heard: Heard, kind: str, at: datetime, **detail) -> bool:
    """Add the event to the volunteer's timeline; True when it was not there before."""
    return await store.add_to_timeline(unit.session, volunteer_id, at, kind, detail, heard.key)


async def _close_alerts(unit: Unit, volunteer_id: str, closes: Callable[[str], bool], closed_by: str) -> None:
    """Close the volunteer's open alerts whose reason `closes` answers."""
    ids = [alert.id for alert in await store.open_alerts_of(unit.session, volunteer_id) if closes(alert.reason)]
    await store.close_alerts(unit.session, ids, unit.now, closed_by)


async def remember_registration(unit: Unit, data: VolunteerRegistered, heard: Heard) -> None:
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await store.update_volunteer(
        unit.session, data.volunteer_id, name=data.name, search_key=domain.search_key(data.name),
        language=data.language, coordinator_email=data.coordinator_email or unit.settings.default_coordinator_email,
        service_started_on=data.service_started_on or data.registered_at.date(), registered_at=data.registered_at,
        appreciation_mail_consent=data.appreciation_mail_consent)
    await _note(unit, data.volunteer_id, heard, "registered", data.registered_at)


async def apply_update(unit: Unit, data: VolunteerUpdated, heard: Heard) -> None:
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    changes = {field: value for field, value in data.model_dump(
        include={"name", "language", "coordinator_email", "appreciation_mail_consent", "active"}).items()
        if value is not None}
    fields = sorted(changes)  # the timeline says which, never the values
    if "name" in changes:
        changes["search_key"] = domain.search_key(changes["name"])
    if changes:
        await store.update_volunteer(unit.session, data.volunteer_id, **changes)
    if data.email is not None:  # the console keeps no address, but a new one answers a failed delivery
        await _close_alerts(unit, data.volunteer_id, lambda reason: domain.closed_by_update(reason, {"email"}),
                            "update")
    await _note(unit, data.volunteer_id, heard, "updated", data.updated_at, fields=fields)


async def erase(unit: Unit, data: VolunteerErased) -> None:
    """GDPR erasure: name, coordinator, timeline and to-dos go, alerts are closed; the bare id
    stays with erased_at so that late events bring nothing back."""
    await unit.forget_pending_events(data.volunteer_id)
    await store.erase_volunteer(unit.session, data.volunteer_id, data.requested_at)
    await _close_alerts(unit, data.volunteer_id, lambda reason: True, "erasure")
    log.info("console: volunteer %s erased", data.volunteer_id)


async def count_shift(unit: Unit, data: ShiftCompleted, heard: Heard) -> None:
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    if await _note(unit, data.volunteer_id, heard, "shift-completed", data.ended_at, shift_id=data.shift_id,
                   task=data.task, hours=domain.shift_hours(data.started_at, data.ended_at)):
        volunteer = await store.volunteer(unit.session, data.volunteer_id)
        await store.count_shift(unit.session, data.volunteer_id,
                                max(filter(None, [volunteer.last_shift_at, data.ended_at])))
    await _close_alerts(unit, data.volunteer_id, domain.closed_by_shift, "shift")


async def note_missed_shift(unit: Unit, data: ShiftMissed, heard: Heard) -> None:
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, data.volunteer_id, heard, "shift-missed", data.scheduled_start, shift_id=data.shift_id)


async def note_checkin(unit: Unit, data: CheckinCompleted, heard: Heard) -> None:
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await _note(unit, data.volunteer_id, heard, "checkin", data.held_at, checkin_kind=data.kind)
    await _close_alerts(unit, data.volunteer_id, lambda reason: domain.closed_by_checkin(reason, data.kind),
                        "checkin")


async def note_offer_of_help(unit: Unit, data: HelpOffered, heard: Heard) -> None:
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, data.volunteer_id, heard, "help-offered", data.offered_at,
                    opportunity=data.opportunity_title)


async def open_alert(unit: Unit, data: AlertRaised, heard: Heard) -> None:
    """One open alert per volunteer and reason: a second raise of it (the escalation
    to the lead) marks it escalated rather than adding another line."""
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    raised_at = heard.time or unit.now
    if not await _note(unit, data.volunteer_id, heard, "alert", raised_at, reason=data.reason):
        return  # this raise was counted already
    current = await store.open_alert_id(unit.session, data.volunteer_id, data.reason)
    if current is None:
        await store.add_alert(unit.session, volunteer_id=data.volunteer_id, reason=data.reason,
                              due_since=data.due_since, raised_at=raised_at, coordinator_email=data.coordinator_email)
    else:
        await store.count_raise(unit.session, current)


async def note_acknowledgement(unit: Unit, data: AlertAcknowledged) -> None:
    """Another console instance (or this one's own echo) took an alert on."""
    await store.acknowledge_open_alert(unit.session, data.volunteer_id, data.reason, data.acknowledged_at, data.by)


async def note_milestone(unit: Unit, data: MilestoneReached, heard: Heard) -> None:
    """A milestone reached: on the timeline, and no longer upcoming."""
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, data.volunteer_id, heard, "milestone",
                    datetime.combine(data.reached_on, datetime.min.time(), unit.now.tzinfo),
                    milestone=data.milestone, celebrated=data.celebrated)
        await store.delete_upcoming(unit.session, data.volunteer_id, data.milestone)


async def note_upcoming(unit: Unit, data: MilestoneUpcoming, heard: Heard) -> None:
    """A volunteer's next milestone of a measure, and what dankjewel will send for it.
    It replaces what the console knew of that measure: the topic is keyed by volunteer,
    so the last one consumed is the newest. One already reached (the reached event,
    on another topic, came first) is out of date and changes nothing."""
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    if data.milestone in await store.reached_milestones(unit.session, data.volunteer_id):
        return
    await store.save_upcoming(unit.session, data.volunteer_id, data.measure, milestone=data.milestone,
                              threshold=data.threshold, value=data.value, expected_on=data.expected_on,
                              sends=[mail.model_dump(mode="json") for mail in data.sends],
                              announced_at=heard.time or unit.now)


async def note_mail(unit: Unit, data: AppreciationSentV2 | AppreciationSent, heard: Heard) -> None:
    if await _known_and_not_erased(unit, data.volunteer_id):
        await _note(unit, data.volunteer_id, heard, "mail-sent", heard.time or unit.now,
                    notification=data.notification, audience=getattr(data, "audience", None))


async def open_todo(unit: Unit, data: TodoOpened, heard: Heard) -> None:
    """A new to-do (appreciation's reminder to write a card); a second delivery changes nothing."""
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    opened_at = heard.time or unit.now
    await store.add_todo(unit.session, dict(
        volunteer_id=data.volunteer_id, todo_id=data.todo_id, action=data.action, milestone=data.milestone,
        due_on=data.due_on, lunch_on=data.lunch_on, opened_at=opened_at, status="open"))
    await _note(unit, data.volunteer_id, heard, "todo-opened", opened_at, action=data.action,
                milestone=data.milestone)


async def note_todo_done(unit: Unit, data: TodoDone, heard: Heard) -> None:
    """A to-do was marked done: usually the echo of the console's own form, which
    changed the row already (the first done wins), so mostly this adds the timeline entry."""
    if not await _known_and_not_erased(unit, data.volunteer_id):
        return
    await store.update_open_todo(unit.session, data.volunteer_id, data.todo_id, status="done",
                                 done_at=data.done_at, done_by=data.by, note=data.note)
    await _note(unit, data.volunteer_id, heard, "todo-done", data.done_at)


async def note_todo_snoozed(unit: Unit, data: TodoSnoozed) -> None:
    """A to-do was snoozed (usually the echo of the console's own form: the same value again)."""
    await store.update_open_todo(unit.session, data.volunteer_id, data.todo_id, snoozed_until=data.until)


# --- the sweep -------------------------------------------------------------------------------


async def report_overdue_todos(unit: Unit, today: date) -> int:
    """Report every to-do overdue on `today` once (`todos.overdue`; appreciation then
    tells the organisation's lead); return how many. `escalated_at` records that it
    was reported, and the event id is derived from the to-do's key: a second sweep
    raises nothing, a replayed event carries the same id."""
    candidates = await store.unreported_todos_due_before(unit.session, today)
    overdue = [row for row in candidates if domain.todo_overdue(row.due_on, today, snoozed_until=row.snoozed_until)]
    for row in overdue:
        await store.update_open_todo(unit.session, row.volunteer_id, row.todo_id, escalated_at=unit.now)
        await unit.emit(TODO_OVERDUE, TodoOverdue(
            volunteer_id=row.volunteer_id, todo_id=row.todo_id, action=row.action, milestone=row.milestone,
            due_on=row.due_on), event_id=domain.overdue_event_id(row.volunteer_id, row.todo_id))
    return len(overdue)


# --- the pages' actions ----------------------------------------------------------------------


async def _act_on_alert(unit: Unit, alert_id: int, action: Callable[[store.Row], Awaitable[None]]) -> str:
    """Lock the alert and, while it is open, do `action`; the alert's volunteer (NotFound)."""
    alert = await store.alert_for_update(unit.session, alert_id)
    if alert is None:
        raise NotFound("no such alert")
    if alert.closed_at is None:  # closed meanwhile (a check-in came in): nothing left to do
        await action(alert)
    return alert.volunteer_id


async def spoke_to_volunteer(unit: Unit, alert_id: int) -> str:
    """"I spoke to them": a held check-in of the alert's kind, so the clock closes and
    nothing escalates (the check-in's echo closes the alert). Returns the volunteer."""
    async def record_checkin(alert: store.Row) -> None:
        await unit.emit(CHECKIN_COMPLETED, CheckinCompleted(
            volunteer_id=alert.volunteer_id, checkin_id=f"console-{uuid.uuid4()}",
            kind=domain.checkin_kind_for(alert.reason), held_at=unit.now))

    return await _act_on_alert(unit, alert_id, record_checkin)


async def take_alert(unit: Unit, alert_id: int, by: str) -> str:
    """"I'll take this": the other coordinators see it is in hand. Returns the volunteer."""
    async def acknowledge(alert: store.Row) -> None:
        if alert.acknowledged_at is not None:
            return
        await store.acknowledge_alert(unit.session, alert.id, unit.now, by)
        await unit.emit(ALERT_ACKNOWLEDGED, AlertAcknowledged(
            volunteer_id=alert.volunteer_id, reason=alert.reason, due_since=alert.due_since,
            acknowledged_at=unit.now, by=by))

    return await _act_on_alert(unit, alert_id, acknowledge)


async def _act_on_todo(unit: Unit, volunteer_id: str, todo_id: str, action: Callable[[], Awaitable[None]]) -> None:
    """Lock the to-do and, while it is open, do `action` (NotFound)."""
    todo = await store.todo_for_update(unit.session, volunteer_id, todo_id)
    if todo is None:
        raise NotFound("no such to-do")
    if todo.status == "open":  # done meanwhile (a double click, a colleague): nothing left to do
        await action()


async def mark_todo_done(unit: Unit, done: TodoDone) -> None:
    """"Done", with the note `done` carries (checked as the event checks it): the first done wins."""
    async def mark_done() -> None:
        await store.update_open_todo(unit.session, done.volunteer_id, done.todo_id, status="done",
                                     done_at=unit.now, done_by=done.by, note=done.note)
        await unit.emit(TODO_DONE, done.model_copy(update={"done_at": unit.now}))

    await _act_on_todo(unit, done.volunteer_id, done.todo_id, mark_done)


async def snooze_todo(unit: Unit, volunteer_id: str, todo_id: str, today: date, by: str) -> None:
    """"Snooze a week"."""
    async def snooze() -> None:
        until = domain.snoozed_until(today)
        await store.update_open_todo(unit.session, volunteer_id, todo_id, snoozed_until=until)
        await unit.emit(TODO_SNOOZED, TodoSnoozed(volunteer_id=volunteer_id, todo_id=todo_id, until=until, by=by))

    await _act_on_todo(unit, volunteer_id, todo_id, snooze)


async def request_erasure(unit: Unit, volunteer_id: str) -> None:
    """Erase the person in every service: publishes volunteers.erased (the console's own
    row is erased when the event comes back), and drops what is still waiting to be
    published about them."""
    await unit.forget_pending_events(volunteer_id)
    await unit.emit(VOLUNTEER_ERASED, VolunteerErased(volunteer_id=volunteer_id, requested_at=unit.now))


async def choose_language(db: store.Db, email: str, language: str) -> None:
    """The language the account reads the console in (one of domain.LANGUAGES)."""
    await store.update_account(db, email, language=language)


Exporter = Callable[[str], Awaitable[dict]]


async def export(db: store.Db, volunteer_id: str, *, service: str, everywhere: Exporter | None, by: str,
                 now: datetime) -> dict:
    """What dankjewel holds about the volunteer (GDPR art. 15/20): every service's,
    when `everywhere` assembles it (the services in one process); else the console's
    own, saying so and where the rest is. NotFound when the console never heard of them."""
    if not await store.is_known(db, volunteer_id):
        raise NotFound("no such volunteer")
    document = {"volunteer_id": volunteer_id, "exported_at": now.isoformat()}
    if everywhere is not None:
        document["services"] = (await everywhere(volunteer_id))["services"]
    else:
        services = {service: await store.export_own(db, volunteer_id)}
        document["note"] = (
            "Only the console's own tables: it reads no other service's tables and was not given their "
            "export (that needs the services in one process, with `run all` handing it over). For everything, "
            f"run `dankjewel export {volunteer_id}` with a DATABASE_URL that reaches every service's tables, or "
            f"ask GET /volunteers/{volunteer_id}/export of `dankjewel run all` with an admin token.")
        document["services"] = services
    log.info("console: volunteer %s exported by account %s (%s)", volunteer_id, by,
             "every service" if everywhere is not None else "the console's tables only")
    return document


# --- the pages' reads ------------------------------------------------------------------------


@dataclass(frozen=True)
class Today:
    """What the Today page shows (rows of the store)."""

    alerts: list[store.Row]
    total: int  # open alerts, however many are shown
    todos: list[store.Row]
    upcoming: list[store.Row]
    upcoming_total: int
    taken_by: dict[str, str]


async def taken_by(db: store.Db) -> dict[str, str]:
    """Account refs → addresses, to show who took an alert on."""
    return {domain.account_ref(email): email for email in await store.account_emails(db)}


async def today(db: store.Db, day: date, *, coordinator: str | None, alerts_shown: int | None,
                upcoming_shown: int | None) -> Today:
    """Open alerts and to-dos, and the milestones coming up around `day` (the
    organisation's date); only `coordinator`'s volunteers unless None."""
    window = domain.upcoming_window(day)
    return Today(
        alerts=await store.alerts_to_show(db, coordinator, alerts_shown),
        todos=await store.todos_to_show(db, day, coordinator),
        total=await store.open_alert_count(db, coordinator),
        upcoming=await store.upcoming_to_show(db, coordinator=coordinator, dated_within=window, limit=upcoming_shown),
        upcoming_total=await store.upcoming_count(db, coordinator=coordinator, dated_within=window),
        taken_by=await taken_by(db))


async def search(db: store.Db, query: str) -> list[store.Row]:
    """Volunteers whose name contains the query, case and accents ignored."""
    return await store.find_volunteers(db, domain.search_fragment(query))


@dataclass(frozen=True)
class VolunteerPage:
    """What a volunteer's page shows (rows of the store)."""

    volunteer: store.Row
    history: list[store.Row]
    alerts: list[store.Row]
    todos: list[store.Row]  # open
    done_todos: list[store.Row]
    upcoming: list[store.Row]
    taken_by: dict[str, str]


async def volunteer_page(db: store.Db, volunteer_id: str) -> VolunteerPage:
    """NotFound for an id the console never heard of; Erased for an erased one."""
    row = await store.volunteer(db, volunteer_id)
    if row is None:
        raise NotFound("no such volunteer")
    if row.erased_at is not None:
        raise Erased()
    history = await store.timeline_of(db, volunteer_id)
    open_alerts = await store.open_alerts_of(db, volunteer_id)
    its_todos = await store.todos_of(db, volunteer_id)
    return VolunteerPage(
        volunteer=row, history=history, alerts=open_alerts,
        todos=[todo for todo in its_todos if todo.status == "open"],
        done_todos=[todo for todo in its_todos if todo.status == "done"],
        upcoming=await store.upcoming_to_show(db, volunteer_id=volunteer_id), taken_by=await taken_by(db))


# --- accounts and signing in -----------------------------------------------------------------

_hasher = PasswordHasher()  # Argon2id with the library's current defaults


@dataclass(frozen=True)
class User:
    """An account as listed: never the hash."""

    email: str
    role: str
    language: str
    created_at: datetime
    disabled_at: datetime | None


async def add_user(db: store.Db, email: str, role: str, password: str, language: str = "nl",
                   now: datetime | None = None) -> str:
    """Add an account (or bring back a disabled one with a new password); returns the
    stored address. Runs in `db`'s transaction (`dankjewel users add`)."""
    address = domain.new_account_address(email, role, language, password)
    existing = await store.account_state(db, address)
    if existing is not None and existing.disabled_at is None:
        raise AccountError(f"an account for {address} exists; disable it first to replace it")
    await store.save_account(db, address, exists=existing is not None, role=role, language=language,
                             password_hash=await asyncio.to_thread(_hasher.hash, password),
                             created_at=now or datetime.now(timezone.utc), disabled_at=None)
    return address


async def list_users(db: store.Db) -> list[User]:
    return [User(**row._mapping) for row in await store.accounts(db)]


async def disable_user(db: store.Db, email: str, now: datetime | None = None) -> None:
    """Disable an account: its sessions stop working at their next request."""
    address = email.strip().lower()
    if not await store.disable_account(db, address, now or datetime.now(timezone.utc)):
        raise AccountError(f"no active account for {address}")


async def active_account(engine, email: str) -> store.Row | None:  # noqa: ANN001
    """The account (role, language) while it is not disabled; None otherwise."""
    async with engine.connect() as connection:
        return await store.active_account(connection, email)


@cache
def _dummy_hash() -> str:
    # Verified for unknown addresses, so they cost the same time as known ones.
    return _hasher.hash(secrets.token_urlsafe(16))


SignInOutcome = Literal["signed-in", "failed", "throttled"]


async def sign_in(engine, email: str, password: str, address: str,  # noqa: ANN001
                  now: datetime) -> tuple[SignInOutcome, User | None]:
    """Check a sign-in. Unknown and disabled addresses get the same answer and the same
    work as a wrong password; a locked account or address is refused unchecked.
    Failures are counted per account and per client address, so guessing stays slow
    however many instances run."""
    email, account_key, address_key = domain.signin_keys(email, address)
    async with engine.connect() as connection:
        if await store.any_locked(connection, [account_key, address_key], now):
            return "throttled", None
        row = await store.active_account(connection, email)
    # Hashing takes ~50 ms of CPU: off the event loop, and outside any transaction.
    stored = row.password_hash if row is not None else _dummy_hash()
    try:
        good = await asyncio.to_thread(_hasher.verify, stored, password) and row is not None
    except (VerificationError, InvalidHashError):
        good = False
    async with engine.begin() as connection:
        if not good:
            for key, limit in ((account_key, domain.ACCOUNT_FAILURES), (address_key, domain.ADDRESS_FAILURES)):
                await store.count_failure(connection, key, limit=limit, now=now, window=domain.FAILURE_WINDOW,
                                          lockout=domain.LOCKOUT)
            return "failed", None
        await store.clear_failures(connection, account_key)
        if _hasher.check_needs_rehash(row.password_hash):
            rehashed = await asyncio.to_thread(_hasher.hash, password)
            await store.update_account(connection, email, password_hash=rehashed)
    return "signed-in", User(email=row.email, role=row.role, language=row.language,
                             created_at=row.created_at, disabled_at=None)
