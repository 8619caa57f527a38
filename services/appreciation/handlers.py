"""Kafka entrypoint of the appreciation service: a transaction's consumed events go
to one use case (usecases.batch / apply_event), each inside its own trace and log
context. No SQL and no rules here."""

from __future__ import annotations

from services.appreciation import usecases
from shared.consumer import handling
from shared.delivery import Unit
from shared.envelope import Envelope


async def apply(unit: Unit, events: list[Envelope]) -> None:
    """Every fresh event of one transaction, in order (the consumer's batch handler)."""
    async with usecases.batch(unit, [event.data for event in events]) as work:
        for event in events:
            with handling(event):
                await usecases.apply_event(work, event.data)
