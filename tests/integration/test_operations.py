"""Several instances of one service on one PostgreSQL, and what operators look at:
migrations and sweeps one at a time, one volunteer's events in order with two
relays, /ready, /metrics."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, text

from services.tasks.service import definition as tasks
from shared.contracts import SHIFT_COMPLETED
from shared.db import create_engine, migrate
from shared.kafka import ensure_topics
from services.settings import load_settings
from tests.integration.conftest import api_client, eventually, read_topic, structured
from tests.integration.test_delivery import shift_data
from tests.tcp_proxy import TcpProxy

NO_CONSUMER = {"consume": False, "scheduled_sweeps": False}


async def test_instances_starting_together_migrate_one_after_the_other(settings):
    engines = [create_engine(settings.database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine, tasks.name, tasks.migrations_dir) for engine in engines))
        async with engines[0].connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version_tasks"))).all()
        assert len(versions) == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_only_one_instance_sweeps_at_a_time(start_service):
    entered, release = asyncio.Event(), asyncio.Event()
    running = 0

    async def slow_sweep(runtime, as_of) -> int:
        nonlocal running
        running += 1
        assert running == 1, "two sweeps at once"
        entered.set()
        await release.wait()
        running -= 1
        return 1

    definition = replace(tasks, sweep=slow_sweep)
    first = await start_service(definition, parts=NO_CONSUMER)
    second = await start_service(definition, parts=NO_CONSUMER)
    now = datetime.now(timezone.utc)

    sweeping = asyncio.create_task(first.sweep(now))
    await asyncio.wait_for(entered.wait(), 10)
    assert await second.sweep(now, wait=False) is None  # the scheduled kind: skips this round
    on_demand = asyncio.create_task(second.sweep(now))  # `dankjewel sweep`: waits its turn
    await asyncio.sleep(0.5)
    assert not on_demand.done()
    release.set()
    assert await asyncio.wait_for(sweeping, 10) == 1
    assert await asyncio.wait_for(on_demand, 10) == 1
    assert await second.sweep(now, wait=False) == 1  # free again
    assert b'dankjewel_sweeps_skipped_total{service="tasks"} 1.0' in second.metrics.exposition()


async def test_two_relays_publish_one_volunteers_events_in_order(start_service, settings, infra):
    topic = f"ops-order-{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic])
    first = await start_service(tasks, parts=NO_CONSUMER)
    second = await start_service(tasks, parts=NO_CONSUMER)
    for runtime in (first, second):
        runtime.relay.batch_size = 7  # many small batches: the relays take turns
    key = f"v-order-{uuid.uuid4().hex[:8]}".encode()
    outbox = tasks.tables.outbox
    for start in range(0, 200, 10):  # written by both instances, each waking its own relay
        runtime = (first, second)[start // 10 % 2]
        async with runtime.engine.begin() as connection:
            await connection.execute(insert(outbox), [
                {"topic": topic, "key": key, "value": json.dumps({"seq": seq}).encode(), "headers": [],
                 "created_at": datetime.now(timezone.utc)} for seq in range(start, start + 10)])
        runtime.relay.wake()
        await asyncio.sleep(0.01)

    records = await read_topic(infra.kafka_bootstrap, topic, key, expect=200, settle=2)
    assert [json.loads(r.value)["seq"] for r in records] == list(range(200))
    assert first.relay.published + second.relay.published == 200


async def test_ready_answers_503_while_the_database_is_away(start_service, settings):
    url = urlsplit(settings.database_url)
    proxy = TcpProxy(url.hostname, url.port or 5432)
    await proxy.start()
    proxied = url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{proxy.port}")
    runtime = await start_service(tasks, parts=NO_CONSUMER, settings=settings.model_copy(
        update={"database_url": load_settings(database_url=urlunsplit(proxied)).database_url}))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.http_app()), base_url="http://127.0.0.1")
    try:
        ready = await client.get("/ready")  # no token needed
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"service": "tasks", "status": "ready",
                                "checks": {"database": "ok", "migrations": "ok", "kafka": "ok"}}

        await proxy.cut()
        away = await client.get("/ready")
        assert away.status_code == 503
        checks = away.json()["checks"]
        assert checks["database"].startswith("unavailable") and checks["kafka"] == "ok"
        assert str(proxy.port) not in away.text and "postgres" not in away.text  # no URL, no credentials
        assert (await client.get("/health")).status_code == 200  # alive all the same

        await proxy.restore()
        await eventually(lambda: _status(client.get("/ready"), 200), timeout=30)
    finally:
        await client.aclose()
        await proxy.stop()


async def _status(request, expected: int) -> bool:
    return (await request).status_code == expected


async def test_metrics_need_their_scope_and_count_events(start_service, producer):
    runtime = await start_service(tasks)
    volunteer = f"v-metrics-{uuid.uuid4().hex[:8]}"
    value, headers = structured(SHIFT_COMPLETED.type, shift_data(volunteer))
    for _ in range(2):  # the same event twice: applied once, one duplicate
        await producer.send_and_wait("shifts.completed", value=value, key=volunteer.encode(), headers=headers)
    await producer.send_and_wait("shifts.completed", value=b"not json{", key=volunteer.encode(),
                                 headers=[("content-type", b"application/cloudevents+json")])
    await eventually(lambda: runtime.consumer.stats["dead_lettered"] >= 1 and runtime.consumer.stats["duplicates"] >= 1)

    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.http_app()), base_url="http://127.0.0.1")
    async with anonymous, api_client(runtime, "shifts:read") as other_scope, \
            api_client(runtime, "metrics:read") as scraper:
        assert (await anonymous.get("/metrics")).status_code == 401
        assert (await other_scope.get("/metrics")).status_code == 403
        response = await scraper.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert volunteer not in response.text  # counts only
    seen = {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}
    shift = (("service", "tasks"), ("type", SHIFT_COMPLETED.type))
    assert seen[("dankjewel_events_consumed_total", shift)] == 2
    assert seen[("dankjewel_events_applied_total", shift)] == 1
    assert seen[("dankjewel_events_duplicate_total", shift)] == 1
    assert seen[("dankjewel_events_dead_lettered_total",
                 (("service", "tasks"), ("topic", "shifts.completed"), ("type", "invalid")))] == 1
    assert seen[("dankjewel_consumer_batch_seconds_count", (("service", "tasks"),))] >= 1
    assert ("dankjewel_outbox_backlog_rows", (("service", "tasks"),)) in seen
    assert ("dankjewel_outbox_oldest_age_seconds", (("service", "tasks"),)) in seen
    lags = {labels: lag for (name, labels), lag in seen.items() if name == "dankjewel_consumer_lag"}
    assert lags and all(lag >= 0 for lag in lags.values())
