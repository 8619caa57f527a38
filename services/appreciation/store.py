"""Appreciation's SQL over its tables (tables.py); no decisions.

`Store` is the state one transaction works on. A batch of 500 events would cost
thousands of statements if every event read and wrote its own rows. Instead the
use case loads, for all volunteers the batch is about, their rows (locked),
their ledger entries and their queued mails in a few statements; it changes
that state in memory; `save` writes it back in one statement per table. A
volunteer the batch did not announce is loaded on first use (`await
store.volunteer(id)`), so a single event, an HTTP call or a sweep page works the
same way.

Every writer of a volunteer's ledger and mails (consumer, sweep, mail sender)
goes through `Store` and so first locks the volunteer's row: what was loaded
stays true until the commit, which is what makes the in-memory "already there?"
checks exact. Rows are locked in volunteer id order, so two transactions never
wait on each other in a circle.

The functions below `Store` are the mail queue's and the HTTP API's statements.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.appreciation.tables import delivery, ledger, mails, rules_applied, shifts, volunteers
from shared import tracing
from shared.db import insert_rows, update_each
from shared.delivery import Wakeable

# The mail sender (mailer.py) drains the queue; a transaction that queues mail wakes it.
MAIL_QUEUE = Wakeable("mail")

CHUNK = 1000  # ids per IN (…) list


class Volunteer:
    """A volunteer row: columns read as attributes; `set` changes it for `save`."""

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


class Store:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
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

    async def shifts_between(self, volunteer_id: str, start: datetime, end: datetime,
                             but: str | None = None) -> list[tuple[datetime, datetime]]:
        """(started_at, ended_at) of the volunteer's shifts that ended in [start, end),
        those of this transaction included, shift `but` left out."""
        rows = await self.session.execute(select(shifts.c.shift_id, shifts.c.started_at, shifts.c.ended_at).where(
            shifts.c.volunteer_id == volunteer_id, shifts.c.ended_at >= start, shifts.c.ended_at < end))
        found = {row.shift_id: (row.started_at, row.ended_at) for row in rows}
        found |= {row["shift_id"]: (row["started_at"], row["ended_at"]) for row in self.new_shifts
                  if row["volunteer_id"] == volunteer_id and start <= row["ended_at"] < end}
        found.pop(but, None)
        return sorted(found.values(), key=lambda shift: shift[1])

    async def add_milestone(self, row: dict) -> bool:
        await self.volunteer(row["volunteer_id"])
        key = (row["volunteer_id"], row["milestone"])
        if key in self.milestones:
            return False
        self.milestones.add(key)
        self.new_ledger.append(row)
        return True

    async def queue_mail(self, volunteer_id: str, occasion: str, notification: str, audience: str, context: dict,
                         *, created_at: datetime) -> bool:
        """A pending mail, due now: `next_attempt_at` is operational (wall clock), so a
        sweep run "as of" a later moment still sends now."""
        await self.volunteer(volunteer_id)
        key = (volunteer_id, occasion, notification)
        if key in self.mail_keys:
            return False
        self.mail_keys.add(key)
        # The trace of what caused the mail (shared/tracing.py): its sending joins it.
        context = context | {"traceparent": tracing.traceparent_for_new_event()}
        self.new_mails.append(dict(
            volunteer_id=volunteer_id, occasion=occasion, notification=notification, audience=audience,
            context=context, status="pending", attempts=0, next_attempt_at=datetime.now(timezone.utc),
            created_at=created_at))
        return True

    async def queued_mail(self, volunteer_id: str, occasion: str, notification: str) -> dict | None:
        """One queued mail's `status` and `context`, or None (shift reminders: read and
        written at once, not at `save`, so an assignment, its release and a new
        assignment in one batch follow each other)."""
        await self.volunteer(volunteer_id)
        row = (await self.session.execute(select(mails.c.status, mails.c.context).where(
            mails.c.volunteer_id == volunteer_id, mails.c.occasion == occasion,
            mails.c.notification == notification))).first()
        return dict(row._mapping) if row is not None else None

    async def put_mail(self, volunteer_id: str, occasion: str, notification: str, audience: str, context: dict,
                       *, due: datetime, created_at: datetime) -> None:
        """Queue the mail pending at `due`, or make the queued one pending again with this
        context (the caller decided it may: never a sent one)."""
        await self.volunteer(volunteer_id)
        key = (volunteer_id, occasion, notification)
        values = dict(audience=audience, context=context, status="pending", attempts=0, next_attempt_at=due,
                      last_error=None)
        changed = await self.session.execute(update(mails).where(
            mails.c.volunteer_id == volunteer_id, mails.c.occasion == occasion, mails.c.notification == notification,
            mails.c.status != "sent").values(**values))
        if changed.rowcount == 0 and key not in self.mail_keys:
            await insert_rows(self.session, mails, [dict(volunteer_id=volunteer_id, occasion=occasion,
                                                         notification=notification, created_at=created_at,
                                                         **values)], skip_conflicts=True)
        self.mail_keys.add(key)

    async def note_mail(self, volunteer_id: str, occasion: str, notification: str, audience: str, context: dict,
                        *, skip: str | None, created_at: datetime) -> None:
        """Write what a queued mail remembers (`context`, whatever its status), and skip
        it with reason `skip` if it is pending; with no such mail, a skipped row holding
        `context` (shift reminders: a release consumed before its assignment)."""
        await self.volunteer(volunteer_id)
        key = (volunteer_id, occasion, notification)
        where = (mails.c.volunteer_id == volunteer_id, mails.c.occasion == occasion,
                 mails.c.notification == notification)
        changed = await self.session.execute(update(mails).where(*where).values(context=context))
        if changed.rowcount == 0 and key not in self.mail_keys:
            await insert_rows(self.session, mails, [dict(
                volunteer_id=volunteer_id, occasion=occasion, notification=notification, audience=audience,
                context=context, status="skipped", attempts=0, next_attempt_at=created_at, last_error=skip,
                created_at=created_at)], skip_conflicts=True)
            self.mail_keys.add(key)
        elif skip is not None:
            await self.session.execute(update(mails).where(*where, mails.c.status == "pending")
                                       .values(status="skipped", last_error=skip))

    def release_waiting_mails(self, volunteer_id: str) -> None:
        """The registration arrived: mails that waited for it are due now."""
        self.registered.add(volunteer_id)

    def forget_mails(self, volunteer_id: str) -> None:
        """Erasure: clear what the volunteer's mails remember and send none of them."""
        self.erased.add(volunteer_id)

    # -- writing ---------------------------------------------------------------

    async def save(self) -> None:
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


# -- the sweep ---------------------------------------------------------------------

async def due_for_sweep(session: AsyncSession, today: date, after_id: str, limit: int) -> list[str]:
    """Ids (in order, after `after_id`) of volunteers whose next sweep day has come."""
    return list((await session.scalars(
        select(volunteers.c.volunteer_id)
        .where(volunteers.c.next_sweep_on <= today, volunteers.c.erased_at.is_(None),
               volunteers.c.volunteer_id > after_id)
        .order_by(volunteers.c.volunteer_id).limit(limit))).all())


# -- re-evaluating every volunteer under changed rules --------------------------------

async def volunteer_ids_after(session: AsyncSession, after_id: str, limit: int) -> list[str]:
    """Ids (in order, after `after_id`) of volunteers not erased: a page to re-evaluate."""
    return list((await session.scalars(
        select(volunteers.c.volunteer_id)
        .where(volunteers.c.erased_at.is_(None), volunteers.c.volunteer_id > after_id)
        .order_by(volunteers.c.volunteer_id).limit(limit))).all())


async def volunteers_page(session: AsyncSession, after_id: str, limit: int) -> list:
    """(volunteer_id, service_started_on) of a page of volunteers not erased (read only)."""
    return list(await session.execute(
        select(volunteers.c.volunteer_id, volunteers.c.service_started_on)
        .where(volunteers.c.erased_at.is_(None), volunteers.c.volunteer_id > after_id)
        .order_by(volunteers.c.volunteer_id).limit(limit)))


async def shifts_of(session: AsyncSession, volunteer_ids: list[str]) -> dict[str, list[tuple[datetime, datetime]]]:
    """(started_at, ended_at) of each volunteer's counted shifts."""
    found: dict[str, list[tuple[datetime, datetime]]] = {}
    for chunk in _chunks(volunteer_ids):
        rows = await session.execute(select(shifts.c.volunteer_id, shifts.c.started_at, shifts.c.ended_at)
                                     .where(shifts.c.volunteer_id.in_(chunk)))
        for row in rows:
            found.setdefault(row.volunteer_id, []).append((row.started_at, row.ended_at))
    return found


async def ledger_names_of(session: AsyncSession, volunteer_ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for chunk in _chunks(volunteer_ids):
        rows = await session.execute(select(ledger.c.volunteer_id, ledger.c.milestone)
                                     .where(ledger.c.volunteer_id.in_(chunk)))
        for row in rows:
            found.setdefault(row.volunteer_id, set()).add(row.milestone)
    return found


async def applied_rules_digest(session: AsyncSession) -> str | None:
    return await session.scalar(select(rules_applied.c.digest).where(rules_applied.c.name == "rules"))


async def record_applied_rules(session: AsyncSession, digest: str, now: datetime) -> None:
    changed = await session.execute(update(rules_applied).where(rules_applied.c.name == "rules")
                                    .values(digest=digest, applied_at=now))
    if changed.rowcount == 0:
        await insert_rows(session, rules_applied, [dict(name="rules", digest=digest, applied_at=now)],
                          skip_conflicts=True)


# -- the mail queue ----------------------------------------------------------------

async def claim_due_mails(connection: AsyncConnection, now: datetime, limit: int, lease: timedelta) -> list:
    """Take the next due mails for one sender: lock them (skipping rows another sender
    holds) and move their next attempt a lease ahead, in one statement (the read after
    it needs no transaction). Each row carries its volunteer's name, address,
    language, consent and state."""
    # In the order of the (status, next_attempt_at) index: a large queue of mail not
    # yet due (waiting, retrying) is then never scanned.
    due = (select(mails.c.id).where(mails.c.status == "pending", mails.c.next_attempt_at <= now)
           .order_by(mails.c.next_attempt_at, mails.c.id).limit(limit).with_for_update(skip_locked=True))
    ids = (await connection.scalars(
        update(mails).where(mails.c.id.in_(due.scalar_subquery())).values(next_attempt_at=now + lease)
        .returning(mails.c.id))).all()
    if not ids:
        return []
    return (await connection.execute(
        select(mails, volunteers.c.name, volunteers.c.email, volunteers.c.language,
               volunteers.c.coordinator_email, volunteers.c.consent, volunteers.c.shift_reminder_consent,
               volunteers.c.unsubscribed_at,
               volunteers.c.erased_at, volunteers.c.registered_at)
        .join(volunteers, volunteers.c.volunteer_id == mails.c.volunteer_id)
        .where(mails.c.id.in_(ids)).order_by(mails.c.id))).all()


# Mails sent and their events in one statement: on its own (autocommit) it is
# atomic, and one round trip where a transaction took five (BEGIN, two updates,
# the outbox insert, COMMIT); every SMTP connection waits on these records, and
# they were the mail sender's limit (16 ms a commit on a busy machine, measured).
# A volunteer erased while their mail was on its way keeps no address or context.
_ERASED = (f"EXISTS (SELECT FROM {volunteers.name} AS volunteer "
           "WHERE volunteer.volunteer_id = mail.volunteer_id AND volunteer.erased_at IS NOT NULL)")
_RECORD_SENT = text(f"""
    WITH events AS (
        INSERT INTO {delivery.outbox.name} (topic, key, value, headers, created_at)
        SELECT topic, key, value, CAST(headers AS json), :now
        FROM unnest(CAST(:topics AS text[]), CAST(:keys AS bytea[]), CAST(:values AS bytea[]),
                    CAST(:headers AS text[])) AS event(topic, key, value, headers))
    UPDATE {mails.name} AS mail
    SET status = 'sent', sent_at = :now, last_error = NULL, attempts = sent.attempts,
        recipient = CASE WHEN {_ERASED} THEN NULL ELSE sent.recipient END,
        context = CASE WHEN {_ERASED} THEN CAST('{{}}' AS json) ELSE mail.context END
    FROM unnest(CAST(:ids AS bigint[]), CAST(:recipients AS text[]), CAST(:attempts AS integer[]))
         AS sent(id, recipient, attempts)
    WHERE mail.id = sent.id
""")


async def record_sent(connection: AsyncConnection, sent: list[tuple], events: list[dict], now: datetime) -> None:
    """Mark (mail, recipient) pairs sent and write their `events` (outbox rows), in the
    caller's `connection.begin()`: on PostgreSQL in one statement, atomic by itself,
    so an autocommit connection saves the BEGIN and COMMIT round trips."""
    if connection.dialect.name == "postgresql":
        await connection.execute(_RECORD_SENT, {
            "now": now, "ids": [mail.id for mail, _ in sent], "recipients": [recipient for _, recipient in sent],
            "attempts": [mail.attempts + 1 for mail, _ in sent],
            "topics": [row["topic"] for row in events], "keys": [row["key"] for row in events],
            "values": [row["value"] for row in events], "headers": [json.dumps(row["headers"]) for row in events]})
        return
    await connection.execute(
        update(mails).where(mails.c.id == bindparam("mail_id")).values(
            status="sent", sent_at=now, recipient=bindparam("to"), attempts=bindparam("tries"), last_error=None),
        [{"mail_id": mail.id, "to": recipient, "tries": mail.attempts + 1} for mail, recipient in sent])
    await connection.execute(update(mails).where(
        mails.c.id.in_([mail.id for mail, _ in sent]),
        mails.c.volunteer_id.in_(select(volunteers.c.volunteer_id).where(
            volunteers.c.erased_at.is_not(None)))).values(recipient=None, context={}))
    await connection.execute(insert(delivery.outbox), events)


async def record_outcomes(session: AsyncSession, rescheduled: list, finished: list, refused: list) -> None:
    """A batch's other outcomes, one statement per kind."""
    # Only while the row still holds our claim: a registration arriving meanwhile
    # set its next attempt to now, and that must stand.
    await update_each(session, mails, [
        ({"id": mail.id, "next_attempt_at": mail.next_attempt_at},
         {"next_attempt_at": when, "last_error": reason, "attempts": attempts})
        for mail, when, reason, attempts in rescheduled])
    await update_each(session, mails, [
        ({"id": mail.id}, {"status": status, "last_error": reason}) for mail, status, reason in finished])
    await update_each(session, mails, [
        ({"id": mail.id}, {"status": "failed", "last_error": f"SMTP {code}", "attempts": mail.attempts + 1})
        for mail, code in refused])


# -- the HTTP API's reads and the unsubscribe ----------------------------------------

async def ledger_of(connection: AsyncConnection | AsyncSession, volunteer_id: str) -> list:
    return list(await connection.execute(
        select(ledger).where(ledger.c.volunteer_id == volunteer_id).order_by(ledger.c.reached_on)))


async def mail_queue(connection: AsyncConnection | AsyncSession, status: str | None, limit: int) -> list[dict]:
    query = select(mails.c.id, mails.c.volunteer_id, mails.c.occasion, mails.c.notification, mails.c.audience,
                   mails.c.status, mails.c.attempts, mails.c.last_error, mails.c.created_at, mails.c.sent_at)
    if status:
        query = query.where(mails.c.status == status)
    rows = await connection.execute(query.order_by(mails.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


async def unsubscribe(session: AsyncSession, volunteer_id: str, now: datetime, *, keep: str) -> None:
    """Record the opt-out and skip the volunteer's pending appreciation mail (not the
    `keep` notification: shift reminders have a consent of their own)."""
    await session.execute(update(volunteers).where(
        volunteers.c.volunteer_id == volunteer_id, volunteers.c.unsubscribed_at.is_(None)).values(unsubscribed_at=now))
    await session.execute(update(mails).where(
        mails.c.volunteer_id == volunteer_id, mails.c.audience == "volunteer", mails.c.notification != keep,
        mails.c.status == "pending").values(status="skipped", last_error="unsubscribed"))


async def stop_shift_reminders(session: AsyncSession, volunteer_id: str, notification: str) -> None:
    """"No more shift reminders": the consent off, and the pending ones skipped."""
    await session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
                          .values(shift_reminder_consent=False))
    await session.execute(update(mails).where(
        mails.c.volunteer_id == volunteer_id, mails.c.notification == notification,
        mails.c.status == "pending").values(status="skipped", last_error="no consent for shift reminders"))
