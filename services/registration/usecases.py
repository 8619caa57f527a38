"""What registration does, one function per thing: load through the store, ask the
domain, store the changes, emit events (outbox, same transaction).

Entrypoints (api.py, handlers.py) call these; a refusal is raised as NotFound,
Conflict or Erased, which the HTTP API answers with 404, 409 or 410.

The HTTP echo: what the API writes it applies here, in its own transaction, and
publishes; the event comes back through the service's own subscription and the
handler runs the same use case, which finds the fact known (same volunteer id)
and changes nothing. No state depends on the echo arriving."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.registration import domain, store
from shared.contracts import (
    HELP_OFFERED,
    OPPORTUNITY_OFFERED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
    HelpOffered,
    OpportunityOffered,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.refusals import Conflict, Erased, NotFound  # what the entrypoints turn into answers
from shared.delivery import Unit

log = logging.getLogger(__name__)





# --- volunteers ---------------------------------------------------------------------------


def _volunteer_row(registration: VolunteerRegistered, registered_via: str, **own_fields) -> dict:
    """A registration as stored; `own_fields`: registration's own (interests, …), else the defaults."""
    return registration.model_dump(exclude={"volunteer_id"}) | {
        "volunteer_id": registration.volunteer_id, "registered_via": registered_via, "active": True,
        "named_in_group_messages_consent": False, "interests": [], "skills": [], "availability": None,
    } | own_fields


async def register(unit: Unit, registration: VolunteerRegistered, *, named_in_group_messages_consent: bool,
                   interests: list[str], skills: list[str], availability: dict | None) -> dict:
    """Register through the API: store and publish `volunteers.registered`; the row stored."""
    if await store.erased_since(unit.session, registration.volunteer_id) is not None:
        raise Erased()
    row = _volunteer_row(registration, unit.source, named_in_group_messages_consent=named_in_group_messages_consent,
                         interests=interests, skills=skills, availability=availability)
    if not await store.insert_volunteer(unit.session, row):
        raise Conflict("a volunteer with this id is already registered")
    await unit.emit(VOLUNTEER_REGISTERED, registration)
    log.info("volunteer %s registered", registration.volunteer_id)
    return row


async def remember_registration(unit: Unit, registration: VolunteerRegistered, *, registered_via: str) -> None:
    """A registration on Kafka: organisations' systems may register volunteers there.
    A known id changes nothing (our own API's registrations come back this way); a
    registration from before the id's erasure is ignored."""
    erased_at = await store.erased_since(unit.session, registration.volunteer_id)
    if domain.registration_predates_erasure(registration.registered_at, erased_at):
        log.info("registration of %s predates its erasure; ignored", registration.volunteer_id)
        return
    await store.insert_volunteer(unit.session, _volunteer_row(registration, registered_via))


async def volunteer(session: AsyncSession, volunteer_id: str, *, for_update: bool = False) -> dict:
    """The stored volunteer; NotFound, or Erased for an erased id."""
    row = await store.volunteer(session, volunteer_id, for_update=for_update)
    if row is None:
        if await store.erased_since(session, volunteer_id) is not None:
            raise Erased()
        raise NotFound("no such volunteer")
    return row


async def update_volunteer(unit: Unit, volunteer_id: str, sent: dict) -> dict:
    """Change the fields sent (as stored); publishes `volunteers.updated` when a field
    other services know changed to a value, or a consent was sent (changed or not:
    appreciation may hold a volunteer's own opt-out that only an explicit value lifts).
    The volunteer as it is now."""
    current = await volunteer(unit.session, volunteer_id, for_update=True)
    changes = domain.changed_fields(current, sent)
    if changes:
        await store.update_volunteer(unit.session, volunteer_id, changes, unit.now)
    published = domain.published_changes(changes, sent)
    if published:
        await unit.emit(VOLUNTEER_UPDATED, VolunteerUpdated(
            volunteer_id=volunteer_id, updated_at=unit.now, **published))
    log.info("volunteer %s updated (%s)", volunteer_id, ", ".join(sorted(changes)) or "nothing changed")
    return current | changes


async def matches(session: AsyncSession, volunteer_id: str) -> list[tuple[domain.Match, dict]]:
    """Open opportunities that fit the volunteer, best first, with their fit."""
    profile = _volunteer_profile(await volunteer(session, volunteer_id))
    found = [(domain.match(profile, _opportunity_profile(row)), row["title"], row)
             for row in await store.open_opportunities(session)]
    return domain.rank_matches(found)


# --- erasure ------------------------------------------------------------------------------


async def erase_on_request(unit: Unit, volunteer_id: str) -> datetime:
    """Erase the person now and publish `volunteers.erased` for the other services."""
    await erase(unit, volunteer_id, unit.now)
    await unit.emit(VOLUNTEER_ERASED, VolunteerErased(volunteer_id=volunteer_id, requested_at=unit.now))
    return unit.now


async def erase(unit: Unit, volunteer_id: str, requested_at: datetime) -> None:
    """GDPR erasure: the volunteer's row, applications and unpublished events go;
    only the bare id and the moment stay, so nothing new is accepted for the id.
    Erasing again (our own `volunteers.erased` coming back) changes nothing."""
    await unit.forget_pending_events(volunteer_id)
    await store.delete_personal_data(unit.session, volunteer_id)
    erased_at = await store.erased_since(unit.session, volunteer_id)
    await store.record_erasure(unit.session, volunteer_id, domain.later_erasure(erased_at, requested_at))
    log.info("personal data of volunteer %s erased", volunteer_id)


# --- opportunities ------------------------------------------------------------------------


async def publish_opportunity(unit: Unit, row: dict) -> tuple[dict, int]:
    """Store an opportunity (`row` without `published_at`) and, when open, offer it to
    every fitting volunteer: (the row stored, how many it was offered to)."""
    row = row | {"published_at": unit.now}
    if not await store.insert_opportunity(unit.session, row):
        raise Conflict("an opportunity with this id exists")
    offered = await _offer_to_fitting_volunteers(unit, row) if row["is_open"] else 0
    log.info("opportunity %s published, offered to %d volunteers", row["opportunity_id"], offered)
    return row, offered


async def _offer_to_fitting_volunteers(unit: Unit, opportunity: dict) -> int:
    """One `opportunities.offered` per active volunteer who agreed to mail and fits well
    enough; in the publishing transaction, so an offer exists only if the opportunity does."""
    profile = _opportunity_profile(opportunity)
    offered = 0
    for candidate in await store.mail_consenting_active_volunteers(unit.session):
        fit = domain.match(_volunteer_profile(candidate), profile)
        if not fit.worth_offering:
            continue
        await unit.emit(OPPORTUNITY_OFFERED, OpportunityOffered(
            volunteer_id=candidate["volunteer_id"], opportunity_id=opportunity["opportunity_id"],
            title=opportunity["title"], reasons=list(fit.reasons[:20]),
        ), event_id=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   f"opportunity-offered/{opportunity['opportunity_id']}/{candidate['volunteer_id']}")))
        offered += 1
    return offered


async def opportunity(session: AsyncSession, opportunity_id: str) -> dict:
    row = await store.opportunity(session, opportunity_id)
    if row is None:
        raise NotFound("no such opportunity")
    return row


async def open_or_close_opportunity(unit: Unit, opportunity_id: str, is_open: bool) -> dict:
    """Close (no more matches or applications) or reopen (offers nothing again)."""
    row = await opportunity(unit.session, opportunity_id)
    await store.set_opportunity_open(unit.session, opportunity_id, is_open)
    return row | {"is_open": is_open}


# --- offers of help -----------------------------------------------------------------------


async def offer_help(unit: Unit, volunteer_id: str, application_id: str, opportunity_id: str | None) -> dict:
    """Record an offer of help (for an opportunity, or in general) and publish
    `help.offered`, which starts the follow-up clock; the application stored."""
    found = await volunteer(unit.session, volunteer_id)
    wanted = None
    if opportunity_id is not None:
        wanted = await opportunity(unit.session, opportunity_id)
        refusal = domain.refuse_application(
            wanted["is_open"], await store.has_applied(unit.session, volunteer_id, opportunity_id))
        if refusal:
            raise Conflict(refusal)
    application = dict(application_id=application_id, volunteer_id=volunteer_id,
                       opportunity_id=opportunity_id, offered_at=unit.now)
    if not await store.insert_application(unit.session, application):
        raise Conflict("an application with this id exists")
    await unit.emit(HELP_OFFERED, HelpOffered(
        volunteer_id=volunteer_id, application_id=application_id, offered_at=unit.now,
        opportunity_id=opportunity_id, opportunity_title=wanted["title"] if wanted else None,
        coordinator_email=domain.follow_up_address(wanted["contact_email"] if wanted else None,
                                                   found["coordinator_email"]),
    ))
    log.info("volunteer %s offered help (application %s)", volunteer_id, application_id)
    return application


# --- stored rows as domain profiles -------------------------------------------------------


def _volunteer_profile(row: dict) -> domain.VolunteerProfile:
    return domain.VolunteerProfile(interests=row["interests"], skills=row["skills"], language=row["language"],
                                   availability=domain.availability_from_json(row["availability"]))


def _opportunity_profile(row: dict) -> domain.OpportunityProfile:
    return domain.OpportunityProfile(
        interests=row["interests"], skills=row["skills"], minutes_per_occurrence=row["minutes_per_occurrence"],
        when=domain.opportunity_times(row["schedule"], domain.slots_from_json(row["when"])))
