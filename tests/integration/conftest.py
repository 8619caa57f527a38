"""Fixtures for tests against the real broker, database and SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import secrets
import time
from datetime import datetime, timezone
import uuid
from collections.abc import Callable
from contextlib import ExitStack

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.auth import TokenFile
from shared.envelope import structured_record
from shared.kafka import ensure_topics
from shared.service import ServiceDefinition, ServiceRuntime
from services.settings import load_settings
from tests.infra import Infrastructure, start_infrastructure
from tests.smtp_server import RecordingSmtp


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(caplog):
    """Every integration test doubles as a privacy check: volunteers' (and
    coordinators') addresses never reach a log line, at INFO level and above."""
    caplog.set_level(logging.INFO)
    yield
    leaked = [r.getMessage() for r in caplog.records if "@example.org" in r.getMessage()]
    assert not leaked, f"personal data in logs: {leaked[:3]}"


@pytest.fixture(scope="session")
def infra() -> Infrastructure:
    with ExitStack() as stack:
        yield start_infrastructure(stack)


@pytest_asyncio.fixture
async def database_url(infra: Infrastructure) -> str:
    """A clean database for each test."""
    engine = create_async_engine(infra.database_url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    return infra.database_url


@pytest.fixture
def settings(infra: Infrastructure, database_url: str, tmp_path):
    # A fresh consumer group per test: each test reads the topics from the start
    # and must therefore pick out its own records (by unique volunteer ids).
    # Secrets are made per test run: the repository ships none.
    return load_settings(kafka_bootstrap_servers=infra.kafka_bootstrap, database_url=database_url,
                         kafka_group_prefix=f"test-{uuid.uuid4().hex[:8]}",
                         unsubscribe_secret=secrets.token_urlsafe(32), console_session_secret=secrets.token_urlsafe(32),
                         api_tokens_file=tmp_path / "api-tokens.json")


def api_client(runtime: ServiceRuntime, *scopes: str) -> httpx.AsyncClient:
    """An HTTP client of the runtime's API holding a new token with `scopes` (default: admin)."""
    token = TokenFile(runtime.settings.api_tokens_file).create(f"test-{uuid.uuid4().hex[:8]}",
                                                                list(scopes or ("admin",)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=runtime.http_app()), base_url="http://127.0.0.1",
                             headers={"Authorization": f"Bearer {token}"})


async def skip_history(settings, definition: ServiceDefinition) -> None:
    """Commit the end of every input topic for the service's (new) consumer group, so
    a test sees only what it publishes itself, not every earlier test's records."""
    topics = sorted({t.topic for t in definition.consumes})
    await ensure_topics(settings, topics)
    metadata = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await metadata.start()
    try:  # partitions_for() waits until the new topics' metadata is there
        partitions = [TopicPartition(topic, p) for topic in topics for p in await metadata.partitions_for(topic)]
    finally:
        await metadata.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                                group_id=f"{settings.kafka_group_prefix}-{definition.name}")
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


@pytest_asyncio.fixture
async def start_service(settings):
    """start_service(definition) → a running ServiceRuntime, stopped after the test.
    A service's first start in a test begins at the end of its topics; a second
    start (a restart) goes on from the offsets the first one committed."""
    runtimes: list[ServiceRuntime] = []

    async def start(definition: ServiceDefinition, *, parts: dict | None = None, **overrides) -> ServiceRuntime:
        runtime_settings = overrides.pop("settings", settings)
        if not any(r.definition.name == definition.name for r in runtimes):
            await skip_history(runtime_settings, definition)
        runtime = ServiceRuntime(definition, runtime_settings, **overrides)
        await runtime.start(**(parts or {}))  # parts: which loops run (ServiceRuntime.start)
        runtimes.append(runtime)
        return runtime

    yield start
    for runtime in runtimes:
        await runtime.stop()


@pytest_asyncio.fixture
async def producer(infra: Infrastructure):
    """A plain aiokafka producer, as an organisation's own system would use."""
    client = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await client.start()
    yield client
    await client.stop()


async def eventually(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.2):
    """Call (and await) check() until it returns something truthy; fail with its last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")


async def equals(awaitable, expected):
    """For eventually(): truthy once the awaited value equals `expected`."""
    return (await awaitable) == expected or None


async def read_topic(bootstrap: str, topic: str, key: bytes, *, expect: int = 1, settle: float = 3.0,
                     timeout: float = 30.0) -> list:
    """All records with `key` on `topic`: waits for `expect` of them, then `settle`
    seconds more so that an unwanted extra record would be seen too."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    found = []
    try:
        deadline = time.monotonic() + timeout
        settle_until = None
        while time.monotonic() < (settle_until or deadline):
            batch = await consumer.getmany(timeout_ms=300)
            found += [r for records in batch.values() for r in records if r.key == key]
            if settle_until is None and len(found) >= expect:
                settle_until = time.monotonic() + settle
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    return found


def structured(event_type: str, data: dict, *, source: str = "https://roster.example.org",
               event_id: str | None = None) -> tuple[bytes, list]:
    return structured_record(event_type, data, source=source, event_id=event_id,
                             time=datetime(2026, 11, 20, 10, tzinfo=timezone.utc))


def binary(event_type: str, data: dict, *, source: str = "https://roster.example.org",
           event_id: str | None = None) -> tuple[bytes, list]:
    headers = [("ce_specversion", b"1.0"), ("ce_id", (event_id or str(uuid.uuid4())).encode()),
               ("ce_source", source.encode()), ("ce_type", event_type.encode()),
               ("ce_time", b"2026-11-20T10:00:00Z"), ("content-type", b"application/json")]
    return json.dumps(data).encode(), headers


@pytest.fixture
def smtp_server(unused_tcp_port_factory):
    server = RecordingSmtp(unused_tcp_port_factory())
    server.start()
    yield server
    with contextlib.suppress(Exception):
        server.stop()


@pytest.fixture
def mail_settings(settings, smtp_server):
    """Settings pointing at the recording SMTP server, with short retry waits."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                       "mail_retry_seconds": 0.5, "mail_retry_max_seconds": 2.0})
