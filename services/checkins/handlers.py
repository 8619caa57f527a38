"""Event → effect, one function per consumed event type.

Handlers only move clocks (from timestamps in the events); the sweep decides
what is overdue. Nothing here logs names or e-mail addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update

from services.checkins import domain
from services.checkins.tables import checkins, clocks, raised, volunteers
from shared.contracts import (
    CheckinCompleted,
    HelpOffered,
    ShiftCompleted,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope

ClockRule = Callable[[domain.Clock | None, datetime], domain.Clock | None]


# --- consumed events ---------------------------------------------------------

async def start_clocks_after_registration(unit: Unit, event: Envelope) -> None:
    """A registration starts the intake clock, and the periodic and quiet clocks."""
    data: VolunteerRegistered = event.data
    volunteer = await _volunteer(unit, data.volunteer_id)
    if volunteer is not None and volunteer.erased_at is not None:
        return
    if volunteer is None:
        await unit.session.execute(insert(volunteers).values(
            volunteer_id=data.volunteer_id, coordinator_email=data.coordinator_email,
            registered_at=data.registered_at, active=True))
    else:  # an offer or shift arrived first (topics are not ordered among each other)
        changes = {"registered_at": min(filter(None, (volunteer.registered_at, data.registered_at)))}
        if data.coordinator_email:
            changes["coordinator_email"] = data.coordinator_email
        await _update_volunteer(unit, data.volunteer_id, **changes)
    volunteer = await _volunteer(unit, data.volunteer_id)

    await _move_clock(unit, data.volunteer_id, "intake", domain.start_answerable, data.registered_at, "registration")
    latest_checkin = await _latest_checkin(unit, data.volunteer_id)
    await _move_clock(unit, data.volunteer_id, "periodic", domain.start_latest,
                      max(filter(None, (data.registered_at, latest_checkin))), "registration")
    if volunteer.active:
        quiet_since, subject = ((volunteer.last_shift_at, "last shift")
                                if volunteer.last_shift_at and volunteer.last_shift_at > data.registered_at
                                else (data.registered_at, "registration"))
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, quiet_since, subject)


async def start_intake_after_offer_of_help(unit: Unit, event: Envelope) -> None:
    """An offer of help asks for an intake conversation, like a registration does."""
    data: HelpOffered = event.data
    volunteer = await _volunteer(unit, data.volunteer_id)
    if volunteer is not None and volunteer.erased_at is not None:
        return
    if volunteer is None:
        await unit.session.execute(insert(volunteers).values(
            volunteer_id=data.volunteer_id, coordinator_email=data.coordinator_email, active=True))
    elif data.coordinator_email:  # the coordinator of this offer is the one to follow up
        await _update_volunteer(unit, data.volunteer_id, coordinator_email=data.coordinator_email)
    what = f"for '{data.opportunity_title}'" if data.opportunity_title else f"(application {data.application_id})"
    await _move_clock(unit, data.volunteer_id, "intake", domain.start_answerable, data.offered_at,
                      f"offer of help {what}"[:300])


async def record_checkin(unit: Unit, event: Envelope) -> None:
    await record(unit, event.data)


async def start_onboarding_after_first_shift(unit: Unit, event: Envelope) -> None:
    """The first completed shift asks for an onboarding check-in; every shift restarts
    the quiet clock of an active, registered volunteer."""
    data: ShiftCompleted = event.data
    volunteer = await _volunteer(unit, data.volunteer_id)
    if volunteer is not None and volunteer.erased_at is not None:
        return
    if volunteer is None:  # rostering systems report shifts of volunteers we never saw register
        await unit.session.execute(insert(volunteers).values(
            volunteer_id=data.volunteer_id, active=True, last_shift_at=data.ended_at))
        volunteer = await _volunteer(unit, data.volunteer_id)
    elif volunteer.last_shift_at is None or data.ended_at > volunteer.last_shift_at:
        await _update_volunteer(unit, data.volunteer_id, last_shift_at=data.ended_at)
    await _move_clock(unit, data.volunteer_id, "onboarding", domain.start_once, data.ended_at, "first shift")
    if volunteer.registered_at is not None and volunteer.active:
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, data.ended_at, "last shift")


async def apply_volunteer_update(unit: Unit, event: Envelope) -> None:
    """A new coordinator, or the volunteer stopped (no quiet alerts) or came back."""
    data: VolunteerUpdated = event.data
    volunteer = await _volunteer(unit, data.volunteer_id)
    if volunteer is not None and volunteer.erased_at is not None:
        return
    if volunteer is None:  # the registration (another topic) has not arrived yet: keep the update for it
        await unit.session.execute(insert(volunteers).values(
            volunteer_id=data.volunteer_id, coordinator_email=data.coordinator_email,
            active=data.active is not False, updated_at=data.updated_at))
        return
    if volunteer.updated_at is not None and data.updated_at < volunteer.updated_at:
        return  # an older update delivered late must not undo a newer one
    changes: dict = {"updated_at": data.updated_at}
    if data.coordinator_email:
        changes["coordinator_email"] = data.coordinator_email
    if data.active is not None:
        changes["active"] = data.active
    await _update_volunteer(unit, data.volunteer_id, **changes)
    if data.active is False:
        await unit.session.execute(update(clocks).where(
            clocks.c.volunteer_id == data.volunteer_id, clocks.c.kind == "quiet",
            clocks.c.closed_at.is_(None)).values(closed_at=data.updated_at))
    elif data.active is True and not volunteer.active and volunteer.registered_at is not None:
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, data.updated_at,
                          "return to active volunteering")


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    """GDPR erasure: drop the coordinator's address, check-ins and clocks (no more
    alerts). The pseudonymous id stays, marked erased, so late events start nothing."""
    data: VolunteerErased = event.data
    await unit.forget_pending_events(data.volunteer_id)
    for table in (clocks, checkins, raised):
        await unit.session.execute(delete(table).where(table.c.volunteer_id == data.volunteer_id))
    erased = dict(coordinator_email=None, registered_at=None, active=False, updated_at=None,
                  last_shift_at=None, erased_at=data.requested_at)
    if not await insert_if_absent(unit.session, volunteers, dict(volunteer_id=data.volunteer_id, **erased)):
        await _update_volunteer(unit, data.volunteer_id, **erased)


# --- shared with the HTTP API --------------------------------------------------

async def record(unit: Unit, data: CheckinCompleted) -> bool:
    """Store a held check-in and stop (or restart) the clocks it answers; False if it was known.

    A known check-in still applies to the clocks (it changes nothing twice): the
    API's transaction and a registration's may run at the same time, each unaware
    of the other's rows, and leave an intake clock running that the check-in
    answers; the check-in's own event, consumed a moment later, closes it."""
    volunteer = await _volunteer(unit, data.volunteer_id)
    if volunteer is not None and volunteer.erased_at is not None:
        return True  # accepted, but nothing is kept of an erased volunteer
    new = await insert_if_absent(unit.session, checkins, dict(
        checkin_id=data.checkin_id, volunteer_id=data.volunteer_id, kind=data.kind, held_at=data.held_at))
    running = {row.kind: row for row in await unit.session.execute(select(clocks).where(
        clocks.c.volunteer_id == data.volunteer_id, clocks.c.closed_at.is_(None)))}
    rules = domain.Rules.from_settings(unit.settings)
    if data.kind in ("intake", "onboarding"):
        clock = running.get(data.kind)
        if clock is not None and domain.closes_clock(clock.started_at, data.held_at):
            await _close_clock(unit, data.volunteer_id, data.kind, data.held_at)
    quiet = running.get("quiet")
    if quiet is not None and domain.closes_quiet_clock(quiet.started_at, data.held_at, rules):
        await _close_clock(unit, data.volunteer_id, "quiet", data.held_at)
    if volunteer is not None and volunteer.registered_at is not None:
        await _move_clock(unit, data.volunteer_id, "periodic", domain.start_latest, data.held_at,
                          f"{data.kind} check-in")
    return new


# --- helpers -------------------------------------------------------------------

async def is_erased(unit: Unit, volunteer_id: str) -> bool:
    volunteer = await _volunteer(unit, volunteer_id)
    return volunteer is not None and volunteer.erased_at is not None


async def _volunteer(unit: Unit, volunteer_id: str):  # noqa: ANN202 - a Row
    return (await unit.session.execute(select(volunteers).where(volunteers.c.volunteer_id == volunteer_id))).first()


async def _update_volunteer(unit: Unit, volunteer_id: str, **changes) -> None:
    await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id).values(**changes))


async def _latest_checkin(unit: Unit, volunteer_id: str) -> datetime | None:
    return await unit.session.scalar(select(func.max(checkins.c.held_at)).where(
        checkins.c.volunteer_id == volunteer_id))


async def _close_clock(unit: Unit, volunteer_id: str, kind: str, closed_at: datetime) -> None:
    await unit.session.execute(update(clocks).where(
        clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind).values(closed_at=closed_at))


async def _move_clock(unit: Unit, volunteer_id: str, kind: domain.Kind, rule: ClockRule, start: datetime,
                      subject: str) -> None:
    """Apply a clock rule from the domain and store the result (if it changed anything)."""
    row = (await unit.session.execute(select(clocks).where(
        clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind))).first()
    current = domain.Clock(row.started_at, row.closed_at) if row is not None else None
    moved = rule(current, start)
    if moved is None:
        return
    closed_at = None
    if kind in ("intake", "onboarding"):
        # A check-in reported before the event that started its clock still answers it.
        closed_at = await unit.session.scalar(select(func.min(checkins.c.held_at)).where(
            checkins.c.volunteer_id == volunteer_id, checkins.c.kind == kind, checkins.c.held_at >= moved.started_at))
    values = dict(started_at=moved.started_at, closed_at=closed_at, subject=subject,
                  due_at=domain.due_at(kind, moved.started_at, domain.Rules.from_settings(unit.settings)))
    if row is None:
        await unit.session.execute(insert(clocks).values(volunteer_id=volunteer_id, kind=kind, **values))
    else:
        await unit.session.execute(update(clocks).where(
            clocks.c.volunteer_id == volunteer_id, clocks.c.kind == kind).values(**values))
