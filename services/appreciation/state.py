"""The appreciation state one transaction works on.

A batch of 500 events would cost thousands of statements if every handler read
and wrote its own rows. Instead the transaction loads, for all volunteers the
batch is about, their rows (locked), their ledger entries and their queued mails
in a few statements; the handlers change that state in memory; `flush` writes it
back in one statement per table. Handlers stay plain code: `await
state.volunteer(id)` loads a volunteer the batch did not announce, so a single
event (an HTTP call, a replayed record) works the same way.

Every writer of a volunteer's ledger and mails (consumer, sweep, mail sender)
goes through this class and so first locks the volunteer's row: what was loaded
stays true until the commit, which is what makes the in-memory "already there?"
checks exact. Rows are locked in volunteer id order, so two transactions never
wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import select, update

from services.appreciation.tables import ledger, mails, shifts, volunteers
from shared.db import insert_rows, update_each
from shared.delivery import Unit

CHUNK = 1000  # ids per IN (…) list


class Volunteer:
    """A volunteer row: columns read as attributes; `set` changes it for the flush."""

    __slots__ = ("values", "changed")

    def __init__(self, values: dict) -> None:
        self.values = values
        self.changed: set[str] = set()

    def __getattr__(self, name: str):  # noqa: ANN204
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, **changes) -> None:
        self.values.update(changes)
        self.changed.update(changes)


class AppreciationState:
    KEY = "appreciation"

    @classmethod
    def of(cls, unit: Unit) -> AppreciationState:
        """The state of this unit's transaction, created on first use."""
        state = unit.state.get(cls.KEY)
        if state is None:
            state = unit.state[cls.KEY] = cls(unit)
            unit.before_flush(state.flush)
        return state

    def __init__(self, unit: Unit) -> None:
        self.session = unit.session
        self.volunteers: dict[str, Volunteer] = {}
        self.shift_known: dict[str, bool] = {}  # shift id → already counted
        self.milestones: set[tuple[str, str]] = set()  # (volunteer, milestone) in the ledger
        self.mail_keys: set[tuple[str, str, str]] = set()  # (volunteer, occasion, notification) queued
        self.new_shifts: list[dict] = []
        self.new_ledger: list[dict] = []
        self.new_mails: list[dict] = []
        self.registered: set[str] = set()  # their waiting mails can go now
        self.erased: set[str] = set()

    # -- loading ---------------------------------------------------------------

    async def load(self, volunteer_ids: Iterable[str], shift_ids: Iterable[str] = ()) -> None:
        """Load (and lock) these volunteers, creating empty rows for unknown ones, and
        learn which of these shifts were counted before."""
        ids = sorted(set(volunteer_ids) - self.volunteers.keys())
        for chunk in _chunks(ids):
            await self._lock_volunteers(chunk)
            missing = [v for v in chunk if v not in self.volunteers]
            if missing:  # an event may come before the registration: the row exists from then on
                await insert_rows(self.session, volunteers, [{"volunteer_id": v} for v in missing],
                                  skip_conflicts=True)
                await self._lock_volunteers(missing)
            rows = await self.session.execute(
                select(ledger.c.volunteer_id, ledger.c.milestone).where(ledger.c.volunteer_id.in_(chunk)))
            self.milestones.update((row.volunteer_id, row.milestone) for row in rows)
            rows = await self.session.execute(
                select(mails.c.volunteer_id, mails.c.occasion, mails.c.notification)
                .where(mails.c.volunteer_id.in_(chunk)))
            self.mail_keys.update((row.volunteer_id, row.occasion, row.notification) for row in rows)
        unknown = sorted(set(shift_ids) - self.shift_known.keys())
        for chunk in _chunks(unknown):
            self.shift_known.update(dict.fromkeys(chunk, False))
            rows = await self.session.execute(select(shifts.c.shift_id).where(shifts.c.shift_id.in_(chunk)))
            self.shift_known.update((row.shift_id, True) for row in rows)

    async def _lock_volunteers(self, ids: list[str]) -> None:
        rows = await self.session.execute(
            select(volunteers).where(volunteers.c.volunteer_id.in_(ids))
            .order_by(volunteers.c.volunteer_id).with_for_update())
        for row in rows:
            self.volunteers[row.volunteer_id] = Volunteer(dict(row._mapping))

    async def volunteer(self, volunteer_id: str) -> Volunteer:
        """The volunteer's row, created empty when an event about them comes first."""
        if volunteer_id not in self.volunteers:
            await self.load([volunteer_id])
        return self.volunteers[volunteer_id]

    # -- changes (each "add" is False when the row was there already) ------------

    async def add_shift(self, row: dict) -> bool:
        shift_id = row["shift_id"]
        if shift_id not in self.shift_known:
            await self.load((), [shift_id])
        if self.shift_known[shift_id]:
            return False
        self.shift_known[shift_id] = True
        self.new_shifts.append(row)
        return True

    async def add_milestone(self, row: dict) -> bool:
        await self.volunteer(row["volunteer_id"])
        key = (row["volunteer_id"], row["milestone"])
        if key in self.milestones:
            return False
        self.milestones.add(key)
        self.new_ledger.append(row)
        return True

    async def add_mail(self, row: dict) -> bool:
        await self.volunteer(row["volunteer_id"])
        key = (row["volunteer_id"], row["occasion"], row["notification"])
        if key in self.mail_keys:
            return False
        self.mail_keys.add(key)
        self.new_mails.append(row)
        return True

    def release_waiting_mails(self, volunteer_id: str) -> None:
        """The registration arrived: mails that waited for it are due now."""
        self.registered.add(volunteer_id)

    def forget_mails(self, volunteer_id: str) -> None:
        """Erasure: clear what the volunteer's mails remember and send none of them."""
        self.erased.add(volunteer_id)

    # -- writing ---------------------------------------------------------------

    async def flush(self) -> None:
        """Write every change in one statement per table (executemany)."""
        session = self.session
        changed = [v for v in self.volunteers.values() if v.changed]
        if changed:
            columns = sorted(set().union(*(v.changed for v in changed)))  # the row is locked: rewriting is safe
            await update_each(session, volunteers, [
                ({"volunteer_id": v.volunteer_id}, {name: v.values[name] for name in columns}) for v in changed])
            for v in changed:
                v.changed.clear()
        # ON CONFLICT DO NOTHING only as a safety net: the locks make the checks above exact.
        for table, rows in ((shifts, self.new_shifts), (ledger, self.new_ledger), (mails, self.new_mails)):
            await insert_rows(session, table, rows, skip_conflicts=True)
            rows.clear()
        for chunk in _chunks(sorted(self.registered)):
            await session.execute(update(mails).where(mails.c.volunteer_id.in_(chunk), mails.c.status == "pending")
                                  .values(next_attempt_at=datetime.now(timezone.utc)))
        for chunk in _chunks(sorted(self.erased)):
            await session.execute(update(mails).where(mails.c.volunteer_id.in_(chunk))
                                  .values(context={}, recipient=None))
            await session.execute(update(mails).where(mails.c.volunteer_id.in_(chunk), mails.c.status == "pending")
                                  .values(status="skipped", last_error="volunteer erased"))
        self.registered.clear()
        self.erased.clear()


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]
