"""The database goes away mid-stream: the consumer waits and retries, keeps its
partitions, loses nothing and dead-letters nothing."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select

from services.appreciation.service import definition as appreciation
from services.appreciation.tables import shifts
from shared.contracts import SHIFT_COMPLETED
from services.settings import load_settings
from tests.integration.conftest import equals, eventually, structured
from tests.integration.test_delivery import shift_data
from tests.tcp_proxy import TcpProxy


async def test_consumer_survives_a_database_outage(start_service, producer, settings):
    url = urlsplit(settings.database_url)
    proxy = TcpProxy(url.hostname, url.port or 5432)
    await proxy.start()
    proxied = url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{proxy.port}")
    runtime = await start_service(appreciation, settings=settings.model_copy(
        update={"database_url": load_settings(database_url=urlunsplit(proxied)).database_url}))
    try:
        volunteer = f"v-outage-{uuid.uuid4().hex[:8]}"
        await eventually(lambda: runtime.consumer.consumer.assignment())
        assignment = set(runtime.consumer.consumer.assignment())

        await proxy.cut()
        for _ in range(5):
            value, headers = structured(SHIFT_COMPLETED.type, shift_data(volunteer))
            await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)
        await asyncio.sleep(6)  # several failed attempts with backoff
        await proxy.restore()

        async def stored() -> int:
            async with runtime.sessions() as session:
                return await session.scalar(select(func.count()).select_from(shifts)
                                            .where(shifts.c.volunteer_id == volunteer))

        await eventually(lambda: equals(stored(), 5), timeout=60)
        assert runtime.consumer.stats["dead_lettered"] == 0
        assert set(runtime.consumer.consumer.assignment()) == assignment
    finally:
        await proxy.stop()
