"""Kafka entrypoints: each translates one consumed event into one use case call."""

from __future__ import annotations

from services.registration import usecases
from shared.contracts import VolunteerErased, VolunteerRegistered
from shared.delivery import Unit
from shared.envelope import Envelope


async def remember_registration(unit: Unit, event: Envelope) -> None:
    """Registrations by organisations' systems; our own API's come back here too and
    change nothing (see usecases)."""
    data: VolunteerRegistered = event.data
    await usecases.remember_registration(unit, data, registered_via=event.source)


async def erase_personal_data(unit: Unit, event: Envelope) -> None:
    data: VolunteerErased = event.data
    await usecases.erase(unit, data.volunteer_id, data.requested_at)
