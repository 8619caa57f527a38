"""The sweep: raise the follow-ups that are overdue at a given moment.

`dankjewel sweep --as-of …` and the service's schedule call `sweep(runtime, as_of)`.
Every raised rung is recorded in `checkins_raised` under (volunteer, kind, clock
start, rung), and the event id is derived from that key: a second sweep at the
same moment raises nothing, and a replayed event carries the same id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError

from services.checkins import domain
from services.checkins.tables import clocks, raised, volunteers
from shared.contracts import FOLLOWUP_OVERDUE, FollowUpOverdue
from shared.db import insert_if_absent
from shared.service import ServiceRuntime
from shared.settings import coordinator_address

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("5d0c1f5e-7a42-4c59-9a53-0b7f3c3f6a10")
# An inactive volunteer (volunteers.updated active=false) gets no quiet or periodic follow-ups.
KINDS_OF_ACTIVE_VOLUNTEERS = {"quiet", "periodic"}


def overdue_event_id(volunteer_id: str, kind: str, clock_started_at: datetime, rung: str) -> str:
    started = clock_started_at.astimezone(timezone.utc).isoformat()
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{volunteer_id}/{kind}/{started}/{rung}"))


async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Raise every rung due at `as_of` that was not raised before; return how many."""
    rules = domain.Rules.from_settings(runtime.settings)
    async with runtime.sessions() as session:
        running = (await session.execute(
            select(clocks, volunteers.c.coordinator_email, volunteers.c.active)
            .join(volunteers, volunteers.c.volunteer_id == clocks.c.volunteer_id, isouter=True)
            .where(clocks.c.closed_at.is_(None), clocks.c.started_at <= as_of)
        )).all()
        already = (await session.execute(
            select(raised.c.volunteer_id, raised.c.kind, raised.c.clock_started_at, raised.c.rung)
            .join(clocks, and_(clocks.c.volunteer_id == raised.c.volunteer_id, clocks.c.kind == raised.c.kind,
                               clocks.c.started_at == raised.c.clock_started_at))
            .where(clocks.c.closed_at.is_(None))
        )).all()
    raised_rungs: dict[tuple, set[str]] = {}
    for row in already:
        raised_rungs.setdefault((row.volunteer_id, row.kind, row.clock_started_at), set()).add(row.rung)

    count = 0
    for clock in running:
        if clock.kind in KINDS_OF_ACTIVE_VOLUNTEERS and clock.active is False:
            continue
        done = raised_rungs.get((clock.volunteer_id, clock.kind, clock.started_at), set())
        for due in domain.rungs_due(clock.kind, clock.started_at, rules, done, as_of):
            if await _raise(runtime, clock, due, rules, as_of):
                count += 1
    return count


async def _raise(runtime: ServiceRuntime, clock, due: domain.RungDue, rules: domain.Rules,  # noqa: ANN001
                 as_of: datetime) -> bool:
    """Record and publish one rung in its own transaction; False if it was raised already."""
    settings = runtime.settings
    event_id = overdue_event_id(clock.volunteer_id, clock.kind, clock.started_at, due.rung)
    # The stored address came from a registration, an update or an opportunity's
    # contact: checked when it is used, so rows stored before the setting count too.
    coordinator, replaced = coordinator_address(clock.coordinator_email, settings)
    if replaced:
        log.warning("coordinator address outside COORDINATOR_EMAIL_DOMAINS replaced by the default "
                    "(volunteer %s)", clock.volunteer_id)
    started_by, opportunity_title = domain.origin(clock.kind, clock.subject)
    event = FollowUpOverdue(
        volunteer_id=clock.volunteer_id, kind=clock.kind, rung=due.rung, due_since=due.due_since,
        coordinator_email=coordinator,
        escalate_to=settings.lead_email if due.rung == "escalation" else None,
        detail=domain.describe(clock.kind, clock.started_at, clock.subject, rules, settings.timezone),
        started_at=clock.started_at, started_by=started_by, opportunity_title=opportunity_title,
    )
    try:
        async with runtime.unit() as unit:
            if not await insert_if_absent(unit.session, raised, dict(
                    volunteer_id=clock.volunteer_id, kind=clock.kind, clock_started_at=clock.started_at,
                    rung=due.rung, event_id=event_id, due_since=due.due_since, raised_at=as_of)):
                return False
            await unit.emit(FOLLOWUP_OVERDUE, event, event_id=event_id)
    except IntegrityError:
        return False  # a concurrent sweep raised it a moment ago
    log.info("follow-up overdue: %s %s for volunteer %s", clock.kind, due.rung, clock.volunteer_id)
    return True
