"""Event → effect, one function per consumed event type."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select

from services.registration.tables import applications, erasures, volunteers
from shared.contracts import VolunteerErased, VolunteerRegistered
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.envelope import Envelope

log = logging.getLogger(__name__)


async def remember_registration(unit: Unit, event: Envelope) -> None:
    """Organisations' own systems may register volunteers straight on Kafka; our own
    registrations come back here too and change nothing. A registration from before
    the volunteer's erasure (late, or replayed) is ignored."""
    data: VolunteerRegistered = event.data
    erased_at = await erased_since(unit.session, data.volunteer_id)
    if erased_at is not None and data.registered_at <= erased_at:
        log.info("registration of %s predates its erasure; ignored", data.volunteer_id)
        return
    await insert_if_absent(unit.session, volunteers, dict(
        volunteer_id=data.volunteer_id, name=data.name, email=data.email, language=data.language,
        registered_at=data.registered_at, service_started_on=data.service_started_on,
        coordinator_email=data.coordinator_email, registered_via=event.source,
        appreciation_mail_consent=data.appreciation_mail_consent,
    ))


async def erase_personal_data(unit: Unit, event: Envelope) -> None:
    data: VolunteerErased = event.data
    await erase(unit, data.volunteer_id, data.requested_at)


async def erase(unit: Unit, volunteer_id: str, requested_at: datetime) -> None:
    """GDPR erasure: the volunteer's row (name, email, availability, interests, …),
    their applications and their unpublished events go; only the bare id and the
    moment of erasure stay, so that nothing new is accepted for the id."""
    await unit.forget_pending_events(volunteer_id)
    await unit.session.execute(delete(applications).where(applications.c.volunteer_id == volunteer_id))
    await unit.session.execute(delete(volunteers).where(volunteers.c.volunteer_id == volunteer_id))
    erased_at = await erased_since(unit.session, volunteer_id)
    if erased_at is None:
        await insert_if_absent(unit.session, erasures, dict(volunteer_id=volunteer_id, erased_at=requested_at))
    elif requested_at > erased_at:
        await unit.session.execute(erasures.update().where(erasures.c.volunteer_id == volunteer_id)
                                   .values(erased_at=requested_at))
    log.info("personal data of volunteer %s erased", volunteer_id)


async def erased_since(session, volunteer_id: str) -> datetime | None:  # noqa: ANN001
    return await session.scalar(select(erasures.c.erased_at).where(erasures.c.volunteer_id == volunteer_id))
