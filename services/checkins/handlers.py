"""Kafka entrypoints: each translates one consumed event into one use case call.

Handlers only move clocks (from timestamps in the events); the sweep decides
what is overdue."""

from __future__ import annotations

from services.checkins import usecases
from shared.consumer import Handler, handling
from shared.contracts import (
    CHECKIN_COMPLETED,
    HELP_OFFERED,
    SHIFT_COMPLETED,
    VOLUNTEER_ERASED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_UPDATED,
    CheckinCompleted,
    EventType,
    HelpOffered,
    ShiftCompleted,
    VolunteerErased,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.delivery import Unit
from shared.envelope import Envelope


async def start_clocks_after_registration(unit: Unit, event: Envelope) -> None:
    data: VolunteerRegistered = event.data
    await usecases.start_clocks_after_registration(unit, data)


async def start_intake_after_offer_of_help(unit: Unit, event: Envelope) -> None:
    data: HelpOffered = event.data
    await usecases.start_intake_after_offer_of_help(unit, data)


async def record_checkin(unit: Unit, event: Envelope) -> None:
    """Check-ins from the console or organisations' systems; our own API's come back
    here too and change nothing (see usecases)."""
    data: CheckinCompleted = event.data
    await usecases.record_checkin(unit, data)


async def start_onboarding_after_first_shift(unit: Unit, event: Envelope) -> None:
    data: ShiftCompleted = event.data
    await usecases.start_onboarding_after_first_shift(unit, data)


async def apply_volunteer_update(unit: Unit, event: Envelope) -> None:
    data: VolunteerUpdated = event.data
    await usecases.apply_volunteer_update(unit, data)


async def erase_volunteer(unit: Unit, event: Envelope) -> None:
    data: VolunteerErased = event.data
    await usecases.erase(unit, data.volunteer_id, data.requested_at)


HANDLERS: dict[EventType, Handler] = {
    VOLUNTEER_REGISTERED: start_clocks_after_registration,
    HELP_OFFERED: start_intake_after_offer_of_help,
    CHECKIN_COMPLETED: record_checkin,
    SHIFT_COMPLETED: start_onboarding_after_first_shift,
    VOLUNTEER_UPDATED: apply_volunteer_update,
    VOLUNTEER_ERASED: erase_volunteer,
}
_BY_TYPE = {event_type.type: handler for event_type, handler in HANDLERS.items()}


async def handle_batch(unit: Unit, events: list[Envelope]) -> None:
    """A transaction's events in order, after taking the lock of every volunteer they
    concern (see usecases): one transaction at a time per volunteer."""
    await usecases.lock_volunteers(unit, [event.data.volunteer_id for event in events])
    for event in events:
        with handling(event):
            await _BY_TYPE[event.type](unit, event)
