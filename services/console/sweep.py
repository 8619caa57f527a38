"""The sweep, an entrypoint: `dankjewel sweep --as-of …` and the service's schedule
call `sweep(runtime, as_of)`, which reports the to-dos whose date passed undone
(`usecases.report_overdue_todos`)."""

from __future__ import annotations

from datetime import datetime

from services.console import usecases
from shared.service import ServiceRuntime


async def sweep(runtime: ServiceRuntime, as_of: datetime) -> int:
    """Report every to-do overdue on `as_of`'s local date (ORG_TIMEZONE); return how many."""
    async with runtime.unit(now=as_of) as unit:
        return await usecases.report_overdue_todos(unit, as_of.astimezone(runtime.settings.timezone).date())
