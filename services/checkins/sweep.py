"""The sweep, an entrypoint: raise the follow-ups that are overdue at a given moment.

`dankjewel sweep --as-of …` and the service's schedule call `sweep(runtime, as_of)`.
Every raised rung is recorded in `checkins_raised` under (volunteer, kind, clock
start, rung), and the event id is derived from that key (`domain.overdue_event_id`):
a second sweep at the same moment raises nothing, and a replayed event carries the
same id.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.checkins import rules as rules_file, usecases
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)


async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Raise every rung due at `as_of` that was not raised before, each in its own
    transaction; return how many."""
    rules = rules_file.rules_for(runtime.settings)
    async with runtime.sessions() as session:
        due = await usecases.rungs_due(session, rules, as_of)
    count = 0
    for clock, rung in due:
        try:
            async with runtime.unit() as unit:
                raised = await usecases.raise_rung(unit, clock, rung, rules, as_of)
        except IntegrityError:
            raised = False  # a concurrent sweep raised it a moment ago
        if raised:
            log.info("follow-up overdue: %s %s for volunteer %s", clock["kind"], rung.rung, clock["volunteer_id"])
            count += 1
    return count
