"""The mail sender's claim and its record of sent mails on PostgreSQL: single
statements on an autocommit connection (store.py), each atomic on its own."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from services.appreciation import store
from services.appreciation.mailer import LEASE
from services.appreciation.service import definition
from services.appreciation.tables import delivery, mails
from shared.contracts import APPRECIATION_SENT_V2, AppreciationSentV2
from shared.db import migrate
from shared.delivery import outbox_row
from tests.unit.test_delivery_batching import NOW, queue_first_shift_mails


async def test_claim_and_record_in_one_statement_each_and_erased_people_keep_nothing(database_url):
    engine = create_async_engine(database_url)
    try:
        await migrate(engine, definition.name, definition.migrations_dir)
        async with engine.begin() as connection:
            await queue_first_shift_mails(connection, ["v-anna", "v-bert", "v-anna-later"])
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            async with connection.begin():
                claimed = await store.claim_due_mails(connection, NOW, 2, LEASE)
            async with connection.begin():
                assert await store.claim_due_mails(connection, NOW, 2, LEASE) == []  # v-anna-later: no volunteer row
            sent = [(mail, f"{mail.volunteer_id}@example.org") for mail in claimed]
            events = [outbox_row(APPRECIATION_SENT_V2, AppreciationSentV2(
                volunteer_id=mail.volunteer_id, milestone=mail.occasion, notification=mail.notification,
                audience=mail.audience), "appreciation", NOW, event_id=f"mail:{mail.id}")[1] for mail, _ in sent]
            async with connection.begin():
                await store.record_sent(connection, sent, events, NOW)
        async with engine.connect() as connection:
            rows = {row.volunteer_id: row for row in await connection.execute(select(mails))}
            outbox = (await connection.execute(select(delivery.outbox).order_by(delivery.outbox.c.id))).all()
        assert [mail.volunteer_id for mail in claimed] == ["v-anna", "v-bert"]
        assert rows["v-anna"].next_attempt_at == NOW + LEASE == claimed[0].next_attempt_at
        assert {v: (row.status, row.attempts, row.recipient, row.context) for v, row in rows.items()} == {
            "v-anna": ("sent", 1, "v-anna@example.org", {"task": "soep"}),
            "v-bert": ("sent", 1, None, {}),
            "v-anna-later": ("pending", 0, None, {"task": "soep"})}
        assert [(row.topic, row.key, row.value) for row in outbox] == [
            (row["topic"], row["key"], row["value"]) for row in events]
        assert outbox[0].headers == events[0]["headers"]
    finally:
        await engine.dispose()
