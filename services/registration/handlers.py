"""Event → effect, one function per consumed event type."""

from __future__ import annotations

from services.registration.tables import volunteers
from shared.contracts import VolunteerRegistered
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope


async def remember_registration(unit: Unit, event: Envelope) -> None:
    """Organisations' own systems may register volunteers straight on Kafka; our own
    registrations come back here too and change nothing."""
    data: VolunteerRegistered = event.data
    await insert_if_absent(unit.session, volunteers, dict(
        volunteer_id=data.volunteer_id, name=data.name, email=data.email, language=data.language,
        registered_at=data.registered_at, service_started_on=data.service_started_on,
        coordinator_email=data.coordinator_email, registered_via=event.source,
    ))
