"""The console's SQL over its tables (tables.py): reads and writes, no decisions.

Every function runs inside the caller's transaction. `db` is an AsyncSession or an
AsyncConnection (accounts and sign-in run on connections: the CLI and the sign-in
page have no unit); rows come back as SQLAlchemy Rows, which the pages read by name."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import Row, case, delete, func, literal, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.console.tables import alerts, metadata, signin_failures, timeline, todos, upcoming, users, volunteers
from shared.db import UtcDateTime, insert_if_absent
from shared.privacy import export_volunteer

Db = AsyncSession | AsyncConnection


def _insert(db: Db, table):  # noqa: ANN001, ANN202 - the dialect's INSERT, which has ON CONFLICT DO UPDATE
    dialect = (db.dialect if isinstance(db, AsyncConnection) else db.get_bind().dialect).name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


# --- volunteers ------------------------------------------------------------------------------


async def volunteer(db: Db, volunteer_id: str) -> Row | None:
    return (await db.execute(select(volunteers).where(volunteers.c.volunteer_id == volunteer_id))).first()


async def add_volunteer(db: Db, volunteer_id: str, *, active: bool) -> bool:
    """True when added; False when the volunteer has a row (nothing changes)."""
    return await insert_if_absent(db, volunteers, dict(volunteer_id=volunteer_id, active=active, shift_count=0))


async def update_volunteer(db: Db, volunteer_id: str, **values) -> None:
    await db.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id).values(**values))


async def count_shift(db: Db, volunteer_id: str, last_shift_at: datetime) -> None:
    """One more shift (in the statement itself), and the latest shift's end."""
    await update_volunteer(db, volunteer_id, shift_count=volunteers.c.shift_count + 1, last_shift_at=last_shift_at)


async def erase_volunteer(db: Db, volunteer_id: str, erased_at: datetime) -> None:
    """Keep the bare id with `erased_at`; delete the timeline, to-dos and upcoming
    milestones, and the coordinators' addresses on the alerts (closing them is the caller's)."""
    await add_volunteer(db, volunteer_id, active=False)
    await update_volunteer(db, volunteer_id, name=None, search_key=None, language=None, coordinator_email=None,
                           service_started_on=None, registered_at=None, appreciation_mail_consent=None,
                           active=False, last_shift_at=None, erased_at=erased_at)
    for table in (timeline, todos, upcoming):
        await db.execute(delete(table).where(table.c.volunteer_id == volunteer_id))
    await db.execute(update(alerts).where(alerts.c.volunteer_id == volunteer_id).values(
        coordinator_email=None, acknowledged_by=None))


async def is_known(db: Db, volunteer_id: str) -> bool:
    return await db.scalar(select(volunteers.c.volunteer_id).where(volunteers.c.volunteer_id == volunteer_id)) \
        is not None


async def export_own(db: Db, volunteer_id: str) -> dict[str, list[dict]]:
    """Every row of the console's tables about the volunteer, JSON-ready."""
    return await export_volunteer(db, metadata, volunteer_id)


async def find_volunteers(db: Db, fragment: str, limit: int = 50) -> list[Row]:
    """Volunteers whose search key contains `fragment` (not erased), by search key."""
    return (await db.execute(
        select(volunteers.c.volunteer_id, volunteers.c.name, volunteers.c.shift_count, volunteers.c.coordinator_email)
        .where(volunteers.c.search_key.contains(fragment), volunteers.c.erased_at.is_(None))
        .order_by(volunteers.c.search_key).limit(limit))).all()


# --- the timeline ----------------------------------------------------------------------------


async def add_to_timeline(db: Db, volunteer_id: str, at: datetime, kind: str, detail: dict, event_key: str) -> bool:
    """True when added; False when the event (its key) is there already."""
    return await insert_if_absent(db, timeline, dict(volunteer_id=volunteer_id, at=at, kind=kind, detail=detail,
                                                     event_key=event_key))


async def reached_milestones(db: Db, volunteer_id: str) -> set[str]:
    """The milestones on the volunteer's timeline."""
    details = await db.scalars(select(timeline.c.detail).where(
        timeline.c.volunteer_id == volunteer_id, timeline.c.kind == "milestone"))
    return {detail.get("milestone") for detail in details}


async def timeline_of(db: Db, volunteer_id: str, limit: int = 500) -> list[Row]:
    """The newest first."""
    return (await db.execute(select(timeline).where(timeline.c.volunteer_id == volunteer_id)
                             .order_by(timeline.c.at.desc(), timeline.c.id.desc()).limit(limit))).all()


# --- alerts ----------------------------------------------------------------------------------


async def open_alerts_of(db: Db, volunteer_id: str) -> list[Row]:
    """The volunteer's open alerts, the longest due first."""
    return (await db.execute(select(alerts).where(
        alerts.c.volunteer_id == volunteer_id, alerts.c.closed_at.is_(None)).order_by(alerts.c.due_since))).all()


async def close_alerts(db: Db, ids: Collection[int], closed_at: datetime, closed_by: str) -> None:
    if ids:
        await db.execute(update(alerts).where(alerts.c.id.in_(ids)).values(closed_at=closed_at, closed_by=closed_by))


async def open_alert_id(db: Db, volunteer_id: str, reason: str) -> int | None:
    return await db.scalar(select(alerts.c.id).where(
        alerts.c.volunteer_id == volunteer_id, alerts.c.reason == reason, alerts.c.closed_at.is_(None)))


async def add_alert(db: Db, **values) -> None:
    await db.execute(alerts.insert().values(times_raised=1, **values))


async def count_raise(db: Db, alert_id: int) -> None:
    await db.execute(update(alerts).where(alerts.c.id == alert_id).values(times_raised=alerts.c.times_raised + 1))


async def alert_for_update(db: Db, alert_id: int) -> Row | None:
    return (await db.execute(select(alerts).where(alerts.c.id == alert_id).with_for_update())).first()


async def acknowledge_alert(db: Db, alert_id: int, at: datetime, by: str) -> None:
    await db.execute(update(alerts).where(alerts.c.id == alert_id).values(acknowledged_at=at, acknowledged_by=by))


async def acknowledge_open_alert(db: Db, volunteer_id: str, reason: str, at: datetime, by: str) -> None:
    """The open alert of this reason, unless someone acknowledged it already."""
    await db.execute(update(alerts).where(
        alerts.c.volunteer_id == volunteer_id, alerts.c.reason == reason,
        alerts.c.closed_at.is_(None), alerts.c.acknowledged_at.is_(None)).values(
        acknowledged_at=at, acknowledged_by=by))


def _mine(query, coordinator: str | None):  # noqa: ANN001, ANN202
    """Only the volunteers of `coordinator` (the query joins volunteers), or everyone's."""
    return query if coordinator is None else query.where(volunteers.c.coordinator_email == coordinator)


async def alerts_to_show(db: Db, coordinator: str | None, limit: int | None) -> list[Row]:
    """Open alerts with the volunteer's name and coordinator, the longest due first."""
    query = (select(alerts, volunteers.c.name, volunteers.c.coordinator_email.label("volunteer_coordinator"))
             .join(volunteers, volunteers.c.volunteer_id == alerts.c.volunteer_id)
             .where(alerts.c.closed_at.is_(None)).order_by(alerts.c.due_since, alerts.c.id))
    return (await db.execute(_mine(query, coordinator).limit(limit))).all()


async def open_alert_count(db: Db, coordinator: str | None) -> int:
    return await db.scalar(_mine(select(func.count()).select_from(alerts).join(
        volunteers, volunteers.c.volunteer_id == alerts.c.volunteer_id).where(alerts.c.closed_at.is_(None)),
        coordinator))


# --- to-dos ----------------------------------------------------------------------------------


async def add_todo(db: Db, row: dict) -> bool:
    """True when added; False when the to-do is known (nothing changes)."""
    return await insert_if_absent(db, todos, row)


async def todo_for_update(db: Db, volunteer_id: str, todo_id: str) -> Row | None:
    return (await db.execute(select(todos).where(
        todos.c.volunteer_id == volunteer_id, todos.c.todo_id == todo_id).with_for_update())).first()


async def update_open_todo(db: Db, volunteer_id: str, todo_id: str, **values) -> None:
    """Change the to-do if it is still open (one that is done stays as it was)."""
    await db.execute(update(todos).where(
        todos.c.volunteer_id == volunteer_id, todos.c.todo_id == todo_id, todos.c.status == "open").values(**values))


async def todos_of(db: Db, volunteer_id: str) -> list[Row]:
    return (await db.execute(select(todos).where(todos.c.volunteer_id == volunteer_id)
                             .order_by(todos.c.due_on, todos.c.todo_id))).all()


async def todos_to_show(db: Db, day: date, coordinator: str | None) -> list[Row]:
    """Open to-dos with the volunteer's name, the oldest date first; a snoozed one is
    left out until its snooze ends."""
    query = (select(todos, volunteers.c.name)
             .join(volunteers, volunteers.c.volunteer_id == todos.c.volunteer_id)
             .where(todos.c.status == "open", or_(todos.c.snoozed_until.is_(None), todos.c.snoozed_until <= day))
             .order_by(todos.c.due_on, todos.c.volunteer_id, todos.c.todo_id))
    return (await db.execute(_mine(query, coordinator))).all()


async def unreported_todos_due_before(db: Db, day: date) -> list[Row]:
    """Open to-dos dated before `day` and not reported overdue, locked: a coordinator
    marking one done right now either wins or waits; rows another sweep holds are
    left to it (SKIP LOCKED)."""
    return (await db.execute(
        select(todos).where(todos.c.status == "open", todos.c.escalated_at.is_(None), todos.c.due_on < day)
        .order_by(todos.c.due_on, todos.c.volunteer_id, todos.c.todo_id)
        .with_for_update(skip_locked=True))).all()


# --- upcoming milestones ---------------------------------------------------------------------


async def save_upcoming(db: Db, volunteer_id: str, measure: str, **values) -> None:
    """The volunteer's upcoming milestone of `measure`, replacing the one known."""
    statement = _insert(db, upcoming).values(volunteer_id=volunteer_id, measure=measure, **values)
    await db.execute(statement.on_conflict_do_update(
        index_elements=[upcoming.c.volunteer_id, upcoming.c.measure], set_=values))


async def delete_upcoming(db: Db, volunteer_id: str, milestone: str) -> None:
    await db.execute(delete(upcoming).where(upcoming.c.volunteer_id == volunteer_id,
                                            upcoming.c.milestone == milestone))


def _upcoming(volunteer_id: str | None, coordinator: str | None,  # noqa: ANN202 - a Select
              dated_within: tuple[date, date] | None):
    """Upcoming milestones with the volunteer's name and `active`, soonest first: dated
    ones (years of service) by date, then the undated (shift and hour counts) by name.
    `dated_within`: years of service only between those dates, counts always."""
    query = (select(upcoming, volunteers.c.name, volunteers.c.active)
             .join(volunteers, volunteers.c.volunteer_id == upcoming.c.volunteer_id)
             .where(volunteers.c.erased_at.is_(None))
             .order_by(upcoming.c.expected_on.asc().nulls_last(), volunteers.c.name, upcoming.c.volunteer_id,
                       upcoming.c.measure))
    if volunteer_id is not None:
        query = query.where(upcoming.c.volunteer_id == volunteer_id)
    if dated_within is not None:
        query = query.where(or_(upcoming.c.measure != "years", upcoming.c.expected_on.between(*dated_within)))
    return _mine(query, coordinator)


async def upcoming_to_show(db: Db, *, volunteer_id: str | None = None, coordinator: str | None = None,
                           dated_within: tuple[date, date] | None = None, limit: int | None = None) -> list[Row]:
    return (await db.execute(_upcoming(volunteer_id, coordinator, dated_within).limit(limit))).all()


async def upcoming_count(db: Db, *, coordinator: str | None, dated_within: tuple[date, date]) -> int:
    query = _upcoming(None, coordinator, dated_within).order_by(None).subquery()
    return await db.scalar(select(func.count()).select_from(query))


# --- accounts and signing in -----------------------------------------------------------------


async def account_state(db: Db, email: str) -> Row | None:
    """The account's `disabled_at` (a Row), or None when there is no account."""
    return (await db.execute(select(users.c.disabled_at).where(users.c.email == email))).first()


async def save_account(db: Db, email: str, *, exists: bool, **values) -> None:
    if exists:
        await db.execute(users.update().where(users.c.email == email).values(**values))
    else:
        await db.execute(users.insert().values(email=email, **values))


async def accounts(db: Db) -> list[Row]:
    """Every account without its hash, by address."""
    return (await db.execute(select(users.c.email, users.c.role, users.c.language, users.c.created_at,
                                    users.c.disabled_at).order_by(users.c.email))).all()


async def active_account(db: Db, email: str) -> Row | None:
    return (await db.execute(select(users).where(users.c.email == email, users.c.disabled_at.is_(None)))).first()


async def disable_account(db: Db, email: str, at: datetime) -> bool:
    """False when there is no active account for the address."""
    result = await db.execute(users.update().where(users.c.email == email, users.c.disabled_at.is_(None))
                              .values(disabled_at=at))
    return result.rowcount == 1


async def update_account(db: Db, email: str, **values) -> None:
    await db.execute(update(users).where(users.c.email == email).values(**values))


async def account_emails(db: Db) -> list[str]:
    return list(await db.scalars(select(users.c.email)))


async def any_locked(db: Db, keys: list[str], now: datetime) -> bool:
    """Whether any of the sign-in failure keys is locked at `now`."""
    return await db.scalar(select(signin_failures.c.key).where(
        signin_failures.c.key.in_(keys), signin_failures.c.locked_until > now).limit(1)) is not None


async def count_failure(db: Db, key: str, *, limit: int, now: datetime, window: timedelta,
                        lockout: timedelta) -> None:
    """One more failure for `key`, in one statement (INSERT … ON CONFLICT DO UPDATE), so
    instances counting at the same moment lose no failure. A window older than
    `window` starts again; `limit` failures lock `key` for `lockout`."""
    t = signin_failures
    expired = t.c.window_started_at <= literal(now - window, UtcDateTime)
    failures = case((expired, 1), else_=t.c.failures + 1)
    until = literal(now + lockout, UtcDateTime)
    statement = _insert(db, t).values(key=key, failures=1, window_started_at=now,
                                      locked_until=now + lockout if limit <= 1 else None)
    await db.execute(statement.on_conflict_do_update(index_elements=[t.c.key], set_={
        "failures": failures,
        "window_started_at": case((expired, literal(now, UtcDateTime)), else_=t.c.window_started_at),
        "locked_until": case((failures >= limit, until), (expired, null()), else_=t.c.locked_until),
    }))


async def clear_failures(db: Db, key: str) -> None:
    await db.execute(delete(signin_failures).where(signin_failures.c.key == key))
