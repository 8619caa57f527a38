"""Kafka entrypoints: each translates one consumed event into one use case call
(the console's read model; see usecases)."""

from __future__ import annotations

from services.console import usecases
from shared.delivery import Unit
from shared.envelope import Envelope


def _heard(event: Envelope) -> usecases.Heard:
    return usecases.Heard(key=f"{event.source}|{event.id}", time=event.time)


async def remember_registration(unit: Unit, event: Envelope) -> None:
    await usecases.remember_registration(unit, event.data, _heard(event))


async def apply_update(unit: Unit, event: Envelope) -> None:
    await usecases.apply_update(unit, event.data, _heard(event))


async def erase(unit: Unit, event: Envelope) -> None:
    await usecases.erase(unit, event.data)


async def count_shift(unit: Unit, event: Envelope) -> None:
    await usecases.count_shift(unit, event.data, _heard(event))


async def note_missed_shift(unit: Unit, event: Envelope) -> None:
    await usecases.note_missed_shift(unit, event.data, _heard(event))


async def note_checkin(unit: Unit, event: Envelope) -> None:
    """Check-ins from anywhere, the console's own "I spoke to them" among them."""
    await usecases.note_checkin(unit, event.data, _heard(event))


async def note_offer_of_help(unit: Unit, event: Envelope) -> None:
    await usecases.note_offer_of_help(unit, event.data, _heard(event))


async def open_alert(unit: Unit, event: Envelope) -> None:
    await usecases.open_alert(unit, event.data, _heard(event))


async def note_acknowledgement(unit: Unit, event: Envelope) -> None:
    """Another console instance (or this one's own echo) took an alert on."""
    await usecases.note_acknowledgement(unit, event.data)


async def note_milestone(unit: Unit, event: Envelope) -> None:
    await usecases.note_milestone(unit, event.data, _heard(event))


async def note_upcoming(unit: Unit, event: Envelope) -> None:
    await usecases.note_upcoming(unit, event.data, _heard(event))


async def note_mail(unit: Unit, event: Envelope) -> None:
    """appreciations.sent, version 2 and the records from before it."""
    await usecases.note_mail(unit, event.data, _heard(event))


async def open_todo(unit: Unit, event: Envelope) -> None:
    await usecases.open_todo(unit, event.data, _heard(event))


async def note_todo_done(unit: Unit, event: Envelope) -> None:
    """Usually the echo of the console's own form."""
    await usecases.note_todo_done(unit, event.data, _heard(event))


async def note_todo_snoozed(unit: Unit, event: Envelope) -> None:
    """Usually the echo of the console's own form."""
    await usecases.note_todo_snoozed(unit, event.data)
