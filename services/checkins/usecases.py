"""What the check-in service does, one function per thing: load through the store,
ask the domain how clocks move, store the changes, emit events (outbox, same
transaction). Nothing here logs names or e-mail addresses.

Every use case about a volunteer runs while holding that volunteer's lock
(`store.lock_volunteers`; the consumer takes the locks of a whole batch first, in
`handlers.lock_the_batchs_volunteers`), so two transactions about one volunteer
never miss each other's rows: a check-in posted to the API while a registration is
being applied is seen by it, or sees its clock.

The HTTP echo: a check-in posted to the API is stored and applied to the clocks
here, then published; the `checkins.completed` coming back through the service's
own subscription finds the check-in known and changes nothing. No state depends
on the echo arriving."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.checkins import domain, store
from services.checkins import rules as rules_file
from shared.contracts import (
    CHECKIN_COMPLETED,
    FOLLOWUP_OVERDUE,
    CheckinCompleted,
    FollowUpOverdue,
    HelpOffered,
    ShiftCompleted,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.refusals import Conflict, Erased  # what the entrypoints turn into answers
from shared.delivery import Unit
from shared.settings import coordinator_address

log = logging.getLogger(__name__)

ClockRule = Callable[[domain.Clock | None, datetime], domain.Clock | None]




async def lock_volunteers(unit: Unit, volunteer_ids: list[str]) -> None:
    """Serialise this transaction with every other one about these volunteers."""
    await store.lock_volunteers(unit.session, volunteer_ids)


# --- consumed events -----------------------------------------------------------------------


async def start_clocks_after_registration(unit: Unit, data: VolunteerRegistered) -> None:
    """A registration starts the intake clock, and the periodic and quiet clocks."""
    volunteer = await store.volunteer(unit.session, data.volunteer_id)
    if volunteer is not None and volunteer["erased_at"] is not None:
        return
    if volunteer is None:
        await store.insert_volunteer(unit.session, data.volunteer_id, coordinator_email=data.coordinator_email,
                                     registered_at=data.registered_at, active=True)
    else:  # an offer or shift arrived first (topics are not ordered among each other)
        changes = {"registered_at": domain.earliest_registration(volunteer["registered_at"], data.registered_at)}
        if data.coordinator_email:
            changes["coordinator_email"] = data.coordinator_email
        await store.update_volunteer(unit.session, data.volunteer_id, **changes)
    volunteer = await store.volunteer(unit.session, data.volunteer_id)

    await _move_clock(unit, data.volunteer_id, "intake", domain.start_answerable, data.registered_at, "registration")
    latest_checkin = await store.latest_checkin_at(unit.session, data.volunteer_id)
    await _move_clock(unit, data.volunteer_id, "periodic", domain.start_latest,
                      domain.periodic_start_at_registration(data.registered_at, latest_checkin), "registration")
    if volunteer["active"]:
        quiet_since, subject = domain.quiet_start_at_registration(data.registered_at, volunteer["last_shift_at"])
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, quiet_since, subject)


async def start_intake_after_offer_of_help(unit: Unit, data: HelpOffered) -> None:
    """An offer of help asks for an intake conversation, like a registration does."""
    volunteer = await store.volunteer(unit.session, data.volunteer_id)
    if volunteer is not None and volunteer["erased_at"] is not None:
        return
    if volunteer is None:
        await store.insert_volunteer(unit.session, data.volunteer_id, coordinator_email=data.coordinator_email,
                                     active=True)
    elif data.coordinator_email:  # the coordinator of this offer is the one to follow up
        await store.update_volunteer(unit.session, data.volunteer_id, coordinator_email=data.coordinator_email)
    await _move_clock(unit, data.volunteer_id, "intake", domain.start_answerable, data.offered_at,
                      domain.offer_subject(data.opportunity_title, data.application_id))


async def start_onboarding_after_first_shift(unit: Unit, data: ShiftCompleted) -> None:
    """The first completed shift asks for an onboarding check-in; every shift restarts
    the quiet clock of an active, registered volunteer."""
    volunteer = await store.volunteer(unit.session, data.volunteer_id)
    if volunteer is not None and volunteer["erased_at"] is not None:
        return
    if volunteer is None:  # rostering systems report shifts of volunteers we never saw register
        await store.insert_volunteer(unit.session, data.volunteer_id, active=True, last_shift_at=data.ended_at)
        volunteer = await store.volunteer(unit.session, data.volunteer_id)
    elif volunteer["last_shift_at"] is None or data.ended_at > volunteer["last_shift_at"]:
        await store.update_volunteer(unit.session, data.volunteer_id, last_shift_at=data.ended_at)
    await _move_clock(unit, data.volunteer_id, "onboarding", domain.start_once, data.ended_at, "first shift")
    if volunteer["registered_at"] is not None and volunteer["active"]:
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, data.ended_at, "last shift")


async def apply_volunteer_update(unit: Unit, data: VolunteerUpdated) -> None:
    """A new coordinator, or the volunteer stopped (no quiet alerts) or came back."""
    volunteer = await store.volunteer(unit.session, data.volunteer_id)
    if volunteer is not None and volunteer["erased_at"] is not None:
        return
    if volunteer is None:  # the registration (another topic) has not arrived yet: keep the update for it
        await store.insert_volunteer(unit.session, data.volunteer_id, coordinator_email=data.coordinator_email,
                                     active=data.active is not False, updated_at=data.updated_at)
        return
    if domain.update_is_stale(volunteer["updated_at"], data.updated_at):
        return
    changes: dict = {"updated_at": data.updated_at}
    if data.coordinator_email:
        changes["coordinator_email"] = data.coordinator_email
    if data.active is not None:
        changes["active"] = data.active
    await store.update_volunteer(unit.session, data.volunteer_id, **changes)
    if data.active is False:
        await store.close_clock(unit.session, data.volunteer_id, "quiet", data.updated_at)
    elif data.active is True and not volunteer["active"] and volunteer["registered_at"] is not None:
        await _move_clock(unit, data.volunteer_id, "quiet", domain.start_latest, data.updated_at,
                          "return to active volunteering")


async def erase(unit: Unit, volunteer_id: str, requested_at: datetime) -> None:
    """GDPR erasure: drop the coordinator's address, check-ins and clocks (no more
    alerts). The pseudonymous id stays, marked erased, so late events start nothing."""
    await unit.forget_pending_events(volunteer_id)
    await store.delete_follow_ups(unit.session, volunteer_id)
    erased = dict(coordinator_email=None, registered_at=None, active=False, updated_at=None,
                  last_shift_at=None, erased_at=requested_at)
    if not await store.insert_volunteer(unit.session, volunteer_id, **erased):
        await store.update_volunteer(unit.session, volunteer_id, **erased)
    log.info("follow-ups of volunteer %s erased", volunteer_id)


# --- check-ins -------------------------------------------------------------------------------


async def record_checkin_on_request(unit: Unit, held: CheckinCompleted) -> None:
    """A check-in posted to the API: stored, applied to the clocks and published."""
    await lock_volunteers(unit, [held.volunteer_id])
    if await is_erased(unit.session, held.volunteer_id):
        raise Erased()
    if not await record_checkin(unit, held):
        raise Conflict("this check-in is already recorded")
    await unit.emit(CHECKIN_COMPLETED, held)


async def record_checkin(unit: Unit, held: CheckinCompleted) -> bool:
    """Store a held check-in and stop (or restart) the clocks it answers; False when
    it was known, which changes nothing (our own API's check-ins come back this way)."""
    volunteer = await store.volunteer(unit.session, held.volunteer_id)
    if volunteer is not None and volunteer["erased_at"] is not None:
        return True  # accepted, but nothing is kept of an erased volunteer
    if not await store.insert_checkin(unit.session, dict(
            checkin_id=held.checkin_id, volunteer_id=held.volunteer_id, kind=held.kind, held_at=held.held_at)):
        return False
    running = await store.running_clock_starts(unit.session, held.volunteer_id)
    for kind in domain.clocks_closed_by(held.kind, held.held_at, running, _rules(unit)):
        await store.close_clock(unit.session, held.volunteer_id, kind, held.held_at)
    if volunteer is not None and volunteer["registered_at"] is not None:
        await _move_clock(unit, held.volunteer_id, "periodic", domain.start_latest, held.held_at,
                          f"{held.kind} check-in")
    return True


async def checkins_and_clocks(session: AsyncSession, volunteer_id: str) -> tuple[list[dict], list[dict]]:
    """Held check-ins (oldest first) and the clocks of one volunteer."""
    return await store.checkins_of(session, volunteer_id), await store.clocks_of(session, volunteer_id)


async def is_erased(session: AsyncSession, volunteer_id: str) -> bool:
    volunteer = await store.volunteer(session, volunteer_id)
    return volunteer is not None and volunteer["erased_at"] is not None


# --- the sweep -------------------------------------------------------------------------------


async def rungs_due(session: AsyncSession, rules: domain.Rules, as_of: datetime) -> list[tuple[dict, domain.RungDue]]:
    """(clock, rung) of every rung due at `as_of` not raised before, in clock order."""
    raised = await store.raised_rungs_of_running_clocks(session)
    due = []
    for clock in await store.running_clocks_started_by(session, as_of):
        if not domain.followed_up(clock["kind"], clock["active"]):
            continue
        done = raised.get((clock["volunteer_id"], clock["kind"], clock["started_at"]), set())
        due += [(clock, rung) for rung in domain.rungs_due(clock["kind"], clock["started_at"], rules, done, as_of)]
    return due


async def raise_rung(unit: Unit, clock: dict, due: domain.RungDue, rules: domain.Rules, as_of: datetime) -> bool:
    """Record one rung (under its key) and publish `followups.overdue` with the id
    derived from that key; False when it was raised before."""
    settings = unit.settings
    # One volunteer at a time, as every use case here: then read again what the sweep
    # listed before, since a check-in or an erasure may have committed in between.
    await store.lock_volunteers(unit.session, [clock["volunteer_id"]])
    current = await store.clock(unit.session, clock["volunteer_id"], clock["kind"])
    volunteer = await store.volunteer(unit.session, clock["volunteer_id"])
    if not domain.still_overdue(clock["started_at"],
                                domain.Clock(current["started_at"], current["closed_at"]) if current else None,
                                erased=volunteer is not None and volunteer["erased_at"] is not None):
        return False
    event_id = domain.overdue_event_id(clock["volunteer_id"], clock["kind"], clock["started_at"], due.rung)
    # The stored address came from a registration, an update or an opportunity's
    # contact: checked when it is used, so rows stored before the setting count too.
    coordinator, replaced = coordinator_address(
        volunteer["coordinator_email"] if volunteer is not None else clock["coordinator_email"], settings)
    if replaced:
        log.warning("coordinator address outside COORDINATOR_EMAIL_DOMAINS replaced by the default "
                    "(volunteer %s)", clock["volunteer_id"])
    started_by, opportunity_title = domain.origin(clock["kind"], clock["subject"])
    if not await store.record_raised(unit.session, dict(
            volunteer_id=clock["volunteer_id"], kind=clock["kind"], clock_started_at=clock["started_at"],
            rung=due.rung, event_id=event_id, due_since=due.due_since, raised_at=as_of)):
        return False
    await unit.emit(FOLLOWUP_OVERDUE, FollowUpOverdue(
        volunteer_id=clock["volunteer_id"], kind=clock["kind"], rung=due.rung, due_since=due.due_since,
        coordinator_email=coordinator,
        escalate_to=settings.lead_email if due.rung == "escalation" else None,
        detail=domain.describe(clock["kind"], clock["started_at"], clock["subject"], rules, settings.timezone),
        started_at=clock["started_at"], started_by=started_by, opportunity_title=opportunity_title,
    ), event_id=event_id)
    return True


# --- helpers ---------------------------------------------------------------------------------


def _rules(unit: Unit) -> domain.Rules:
    return rules_file.rules_for(unit.settings)


async def _move_clock(unit: Unit, volunteer_id: str, kind: domain.Kind, rule: ClockRule, start: datetime,
                      subject: str) -> None:
    """Apply a clock rule from the domain and store the result (if it changed anything)."""
    row = await store.clock(unit.session, volunteer_id, kind)
    current = domain.Clock(row["started_at"], row["closed_at"]) if row is not None else None
    moved = rule(current, start)
    if moved is None:
        return
    closed_at = None
    if kind in domain.ANSWERABLE:
        # A check-in reported before the event that started its clock still answers it.
        closed_at = await store.earliest_checkin_at(unit.session, volunteer_id, kind, moved.started_at)
    await store.save_clock(unit.session, volunteer_id, kind, exists=row is not None, started_at=moved.started_at,
                           closed_at=closed_at, subject=subject,
                           due_at=domain.due_at(kind, moved.started_at, _rules(unit)))
