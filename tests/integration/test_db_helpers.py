"""The bulk write helpers every batch goes through, on PostgreSQL (unnest arrays)
and on SQLite (executemany): same rows in, same rows out."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Boolean, Column, Date, Integer, LargeBinary, MetaData, String, Table, select

from shared.db import BigId, UtcDateTime, create_engine, insert_rows, update_each

metadata = MetaData()
things = Table(
    "test_bulk_things", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("payload", JSON, nullable=True),
    Column("blob", LargeBinary, nullable=True),
    Column("on", Date, nullable=True),
    Column("at", UtcDateTime, nullable=True),
    Column("flag", Boolean, nullable=True),
    Column("count", Integer, nullable=True),
)

T0 = datetime(2026, 11, 28, 9, 30, tzinfo=timezone.utc)
ROWS = [
    # JSON lists of lists (outbox headers) must not turn into array dimensions.
    dict(name="a", payload=[["content-type", "application/cloudevents+json"]], blob=b"\x00\xff", on=date(2026, 1, 1),
         at=T0, flag=True, count=1),
    dict(name="b", payload={"shifts": 5, "task": "Koffie — zaal 2"}, blob=None, on=None, at=None, flag=False, count=None),
    dict(name="c", payload=None, blob=b"", on=date(2024, 2, 29), at=T0 + timedelta(microseconds=7), flag=None, count=0),
]


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request, database_url, tmp_path):
    url = database_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/bulk.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    yield engine
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
    await engine.dispose()


async def _all(engine) -> list[dict]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(things).order_by(things.c.id))
        return [dict(row._mapping) for row in rows]


async def test_insert_rows_keeps_values_and_order(engine):
    from sqlalchemy.ext.asyncio import AsyncSession

    async with AsyncSession(engine) as session, session.begin():
        await insert_rows(session, things, ROWS)
    stored = await _all(engine)
    assert [{k: v for k, v in row.items() if k != "id"} for row in stored] == ROWS
    assert [row["id"] for row in stored] == sorted(row["id"] for row in stored)


async def test_insert_rows_skips_conflicts_only_when_asked(engine):
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.ext.asyncio import AsyncSession

    async with AsyncSession(engine) as session, session.begin():
        await insert_rows(session, things, ROWS[:2])
    async with AsyncSession(engine) as session, session.begin():
        await insert_rows(session, things, ROWS, skip_conflicts=True)
    assert [row["name"] for row in await _all(engine)] == ["a", "b", "c"]
    with pytest.raises(IntegrityError):
        async with AsyncSession(engine) as session, session.begin():
            await insert_rows(session, things, ROWS[:1])


async def test_update_each_matches_and_sets_per_row(engine):
    from sqlalchemy.ext.asyncio import AsyncSession

    async with AsyncSession(engine) as session, session.begin():
        await insert_rows(session, things, ROWS)
        await update_each(session, things, [
            ({"name": "a", "count": 1}, {"count": 2, "payload": {"x": [1, 2]}}),
            ({"name": "b", "count": 99}, {"count": 3, "payload": None}),  # does not match: unchanged
            ({"name": "c", "count": 0}, {"count": 4, "payload": ["y"]}),
        ])
    stored = {row["name"]: (row["count"], row["payload"]) for row in await _all(engine)}
    assert stored == {"a": (2, {"x": [1, 2]}), "b": (None, ROWS[1]["payload"]), "c": (4, ["y"])}
