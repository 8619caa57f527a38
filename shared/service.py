"""What a service is (a ServiceDefinition) and how one runs (a ServiceRuntime).

A definition is plain data: importing a service creates no engine and no client.
The runtime creates them on `start()`, from settings, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from shared.auth import Authenticator
from shared.consumer import BatchHandler, EventConsumer, Subscription, is_transient
from shared.contracts import EventType, dlq_topic
from shared.db import (
    DeliveryTables,
    advisory_key,
    advisory_xact_lock,
    applied_revisions,
    create_engine,
    migrate,
    migration_heads,
    try_advisory_xact_lock,
)
from shared.delivery import Unit, Wakeable, wake_channel
from shared.heap import restore_heap, settle_heap
from shared.http import harden
from shared.ingest import INGESTIBLE, events_router
from shared.kafka import create_consumer, create_producer, ensure_topics
from shared.metrics import CONTENT_TYPE, ServiceMetrics, current_service
from shared.privacy import export_document, export_volunteer
from shared.relay import OutboxRelay
from shared.settings import Settings
from shared.values import SafeId

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    description: str
    metadata: MetaData
    tables: DeliveryTables
    migrations_dir: Path
    subscriptions: list[Subscription]
    publishes: list[EventType]
    # Takes a transaction's consumed events at once instead of per-subscription handlers (optional).
    handle_batch: BatchHandler | None = None
    routes: Callable[["ServiceRuntime"], APIRouter] | None = None
    # Installs what a router cannot carry (exception handlers) on the service's app.
    http_setup: Callable[[FastAPI], None] | None = None
    http_port: int = 8000
    # Time-based rules: sweep(runtime, as_of) raises what is due at `as_of` and
    # returns how many things it raised. Running it twice raises nothing twice.
    sweep: Callable[["ServiceRuntime", datetime], Awaitable[int]] | None = None
    # The configuration the service reads: shared.settings.Settings, or the service's
    # own subclass of it (services/<name>/settings.py) adding the variables only it reads.
    settings: type[Settings] = Settings
    # Checks the service's own configuration at start-up; raises with a clear message.
    check_config: Callable[[Settings], None] | None = None
    # Further loops the service runs (e.g. the mail sender), each supervised.
    background: list[Callable[["ServiceRuntime"], Awaitable[None]]] = field(default_factory=list)

    @property
    def consumes(self) -> list[EventType]:
        return [s.event_type for s in self.subscriptions]


@dataclass
class ServiceRuntime:
    definition: ServiceDefinition
    settings: Settings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    def __post_init__(self) -> None:
        if not isinstance(self.settings, self.definition.settings):
            raise TypeError(f"the {self.name} service reads {self.definition.settings.__name__}; "
                            f"got {type(self.settings).__name__} (services.settings.load_settings reads them all)")
        self.engine = None
        self.producer = None
        self.consumer: EventConsumer | None = None
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task] = []
        self.wakers: dict[str, asyncio.Event] = {}
        self.metrics = ServiceMetrics(self.name)  # a registry per runtime: `run all` has five
        self.producer_started = False
        # Reads API_TOKENS_FILE on the first request, and again whenever it changed.
        self.auth = Authenticator(self.settings.api_tokens_file)
        # Every service's export of a person, when the services share this process
        # (`run all` sets it); None when this service runs alone.
        self.export_everywhere: Callable[[str], Awaitable[dict]] | None = None

    @property
    def name(self) -> str:
        return self.definition.name

    async def start(self, *, consume: bool = True, background: bool | None = None,
                    scheduled_sweeps: bool = True) -> None:
        """Start the outbox relay and, as asked, the consumer, the background loops
        (default: with the consumer) and the scheduled sweeps."""
        background = consume if background is None else background
        # Log lines of this start-up and of every loop it starts name the service (JSON logs).
        service_token = current_service.set(self.name)
        try:
            await self._start(consume=consume, background=background, scheduled_sweeps=scheduled_sweeps)
        finally:
            current_service.reset(service_token)
        settle_heap()

    async def _start(self, *, consume: bool, background: bool, scheduled_sweeps: bool) -> None:
        d, settings = self.definition, self.settings
        if d.check_config is not None:
            d.check_config(settings)
        for warning in settings.cleartext_warnings():  # allowed, but the operator should know
            log.warning("%s", warning)
        self.engine = create_engine(settings.database_url)
        await migrate(self.engine, d.name, d.migrations_dir)
        self.migration_heads = migration_heads(d.name, d.migrations_dir)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # …and the topics of organisations' events, which any instance takes over HTTP (POST /events).
        topics = {t.topic for t in d.consumes + d.publishes} | {t.topic for t, _ in INGESTIBLE.values()}
        await ensure_topics(settings, sorted(topics | {dlq_topic(t.topic) for t in d.consumes}))
        self.producer = create_producer(settings, client_id=f"{settings.kafka_group_prefix}-{d.name}")
        await self.producer.start()
        self.producer_started = True
        self.relay = OutboxRelay(engine=self.engine, tables=d.tables, producer=self.producer)
        self._tasks.append(asyncio.create_task(self._supervise("outbox relay", self.relay.run), name=f"{d.name}-relay"))
        for loop in d.background if background else []:
            self._tasks.append(asyncio.create_task(self._supervise(loop.__name__, lambda loop=loop: loop(self)),
                                                   name=f"{d.name}-{loop.__name__}"))
        if background and d.background and self.engine.dialect.name == "postgresql":
            self._tasks.append(asyncio.create_task(self._supervise("wake listener", self._listen_for_wakes),
                                                   name=f"{d.name}-wake-listener"))
        if d.sweep is not None and scheduled_sweeps:
            self._tasks.append(asyncio.create_task(self._supervise("sweep", self._sweep_on_schedule),
                                                   name=f"{d.name}-sweep"))
        if d.subscriptions and consume:
            group = f"{settings.kafka_group_prefix}-{d.name}"
            kafka_consumer = create_consumer(settings, group, sorted({t.topic for t in d.consumes}))
            await kafka_consumer.start()
            self.consumer = EventConsumer(
                service=d.name, consumer=kafka_consumer, producer=self.producer, engine=self.engine, settings=settings,
                tables=d.tables, subscriptions=d.subscriptions, handle_batch=d.handle_batch,
                on_commit=self.after_commit, clock=self.clock, metrics=self.metrics,
            )
            self._tasks.append(asyncio.create_task(self._supervise("consumer", self.consumer.run), name=f"{d.name}-consumer"))
        log.info("service %s started (consumes %s; publishes %s)", d.name,
                 ", ".join(t.topic for t in d.consumes) or "nothing",
                 ", ".join(t.topic for t in d.publishes) or "nothing")

    def waker(self, loop: Wakeable) -> asyncio.Event:
        """The event a background loop waits on; set when a transaction asked to wake it."""
        return self._waker(loop.name)

    def _waker(self, name: str) -> asyncio.Event:
        return self.wakers.setdefault(name, asyncio.Event())

    async def _listen_for_wakes(self) -> None:
        """Wake this process's background loops when a transaction in any process asks
        for them (Unit.flush sends a NOTIFY): the mail sender in a process of its own
        starts on new mail at once instead of at its next poll. A lost connection is
        noticed within seconds and opened again; meanwhile the loops poll as before."""

        def woken(_connection, _pid, _channel, loop: str) -> None:  # noqa: ANN001 - asyncpg's callback
            self._waker(loop).set()  # the NOTIFY payload: the loop's name

        while True:
            try:
                # A connection of its own, outside the pool: a pooled one would go on
                # listening for whoever borrows it next.
                listener = await asyncpg.connect(**listener_connect_args(self.engine), timeout=10)
                try:
                    await listener.add_listener(wake_channel(self.name), woken)
                    for loop in self.wakers.values():  # work may have come while no one listened
                        loop.set()
                    while True:
                        await asyncio.sleep(2)
                        await listener.execute("SELECT 1")  # a dead connection raises here
                finally:
                    listener.terminate()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("wake listener of %s: database unavailable (%s); loops poll meanwhile",
                            self.name, type(error).__name__)
                await asyncio.sleep(5)

    def after_commit(self, unit: Unit) -> None:
        if unit.emitted and self.relay is not None:
            self.relay.wake()
        for loop in unit.wakes:
            self.waker(loop).set()

    async def sweep(self, as_of: datetime, *, wait: bool = True) -> int | None:
        """Run the service's time-based rules as of `as_of` (any moment: backfills, tests).

        One instance of a service sweeps at a time: on PostgreSQL the sweep holds an
        advisory lock per service, in a transaction of its own kept open meanwhile (so
        a lost connection or a crash releases it). An on-demand sweep (`dankjewel
        sweep`, tests) waits for the lock; a scheduled one (`wait=False`) skips the
        round and returns None when another instance is sweeping. Sweeps are
        idempotent anyway: the lock saves doubled work and races between them."""
        if self.definition.sweep is None:
            return 0
        key = advisory_key(self.name, "sweep")
        async with self.engine.connect() as lock_connection, lock_connection.begin():
            if wait:
                await advisory_xact_lock(lock_connection, key)
            elif not await try_advisory_xact_lock(lock_connection, key):
                log.info("sweep of %s skipped: another instance is sweeping", self.name)
                self.metrics.sweep_skipped()
                return None
            started = time.perf_counter()
            raised = await self.definition.sweep(self, as_of)
            self.metrics.sweep_took(time.perf_counter() - started)
        log.info("sweep of %s as of %s raised %d", self.name, as_of.isoformat(), raised)
        return raised

    async def _sweep_on_schedule(self) -> None:
        while True:
            try:
                await self.sweep(self.clock(), wait=False)
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("sweep of %s: database unavailable (%s); next try in 30s", self.name, type(error).__name__)
                await asyncio.sleep(30)
                continue
            await asyncio.sleep(self.settings.sweep_interval_seconds)

    async def _supervise(self, what: str, loop: Callable) -> None:
        """Keep a loop alive: an unexpected crash is logged and the loop restarted."""
        while True:
            try:
                return await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s of %s crashed; restarting in 1s", what, self.name)
                await asyncio.sleep(1)

    async def stop(self) -> None:
        """Stop: the consumer may finish the batch at hand (up to 10 s; its offsets are
        committed after its transaction, as always), the relay the batch it is sending
        (else a restart sends it again); other loops are cancelled."""
        consumer_tasks = [t for t in self._tasks if t.get_name().endswith("-consumer")]
        if self.consumer is not None and consumer_tasks:
            self.consumer.stop_after_current_batch()
            await asyncio.wait(consumer_tasks, timeout=10)
        relay_tasks = [t for t in self._tasks if t.get_name().endswith("-relay")]
        for task in self._tasks:
            if task not in relay_tasks:
                task.cancel()
        if self.relay is not None and relay_tasks:
            self.relay.stop_after_current_batch()
            await asyncio.wait(relay_tasks, timeout=10)
        for task in relay_tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.consumer.stop()
        if self.producer is not None:
            self.producer_started = False
            with contextlib.suppress(Exception):
                await self.producer.stop()
        if self.engine is not None:
            await self.engine.dispose()
        restore_heap()
        log.info("service %s stopped", self.name)

    @contextlib.asynccontextmanager
    async def unit(self, now: datetime | None = None, connection: AsyncConnection | None = None) -> AsyncIterator[Unit]:
        """One transaction (an HTTP request, a sweep): state change plus outbox, then wake the relay.
        On a `connection` the caller holds, if given: that saves the pool's check-out
        and reset round trips, which a loop of one small transaction after another feels."""
        sessions = self.sessions(bind=connection) if connection is not None else self.sessions()
        async with sessions as session, session.begin():
            unit = Unit(session=session, tables=self.definition.tables, source=self.name,
                        settings=self.settings, now=now or self.clock())
            yield unit
            await unit.flush()
        self.after_commit(unit)

    def http_app(self) -> FastAPI:
        d = self.definition
        app = harden(FastAPI(title=f"dankjewel {d.name}", description=d.description), self.settings)

        @app.get("/health", tags=["operations"])
        async def health() -> dict:
            return {"service": d.name, "status": "ok",
                    "consumer": self.consumer.stats if self.consumer else None,
                    "relayed": self.relay.published if self.relay else 0}

        self._readiness_route(app)
        self._metrics_route(app)

        @app.get("/volunteers/{volunteer_id}/export", tags=["privacy"],
                 dependencies=[self.auth.requires("admin")])
        async def export(volunteer_id: SafeId) -> dict:
            """Everything this service holds about one volunteer (GDPR art. 15/20)."""
            return await self.export(volunteer_id)

        app.include_router(self.events_router())
        if d.routes is not None:
            app.include_router(d.routes(self))
        if d.http_setup is not None:
            d.http_setup(app)
        return app

    def events_router(self) -> APIRouter:
        """`POST /events`: organisations' CloudEvents over HTTP, published through this
        instance's producer (any service's instance takes every accepted type)."""
        return events_router(self.auth, lambda: self.producer if self.producer_started else None)

    def _readiness_route(self, app: FastAPI) -> None:
        @app.get("/ready", tags=["operations"])
        async def ready() -> JSONResponse:
            """200 when this instance can do its work (database answers, its tables are at
            the newest migration, the Kafka producer is started); else 503 naming what is not."""
            checks = await self.readiness()
            ok = all(value == "ok" for value in checks.values())
            return JSONResponse({"service": self.name, "status": "ready" if ok else "not ready", "checks": checks},
                                status_code=200 if ok else 503)

    async def readiness(self, timeout: float = 3.0) -> dict[str, str]:
        """{"database", "migrations", "kafka"} → "ok" or why not (no URLs, no secrets)."""
        checks = {"database": "not started", "migrations": "unknown", "kafka": "not started"}
        if self.engine is not None:
            try:
                async with asyncio.timeout(timeout):
                    async with self.engine.connect() as connection:
                        await connection.execute(text("SELECT 1"))
                        checks["database"] = "ok"
                        applied = await applied_revisions(connection, self.name)
                checks["migrations"] = "ok" if applied == self.migration_heads else "not at the newest revision"
            except Exception as error:  # the database is away (or too slow to answer)
                if checks["database"] != "ok":
                    checks["database"] = f"unavailable ({type(error).__name__})"
        if self.producer is not None and self.producer_started:
            checks["kafka"] = "ok"
        return checks

    def _metrics_route(self, app: FastAPI) -> None:
        # Counts only (no ids, names or addresses), yet behind a token: the scope
        # metrics:read, for the scraper (`dankjewel tokens create prometheus --scope metrics:read`).
        @app.get("/metrics", tags=["operations"], dependencies=[self.auth.requires("metrics:read")],
                 response_class=Response)
        async def metrics() -> Response:
            """This service's metrics in the Prometheus text format."""
            await self.metrics.refresh(self.engine, self.definition.tables.outbox,
                                       self.consumer.consumer if self.consumer else None, now=self.clock())
            return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def export(self, volunteer_id: str) -> dict:
        async with self.engine.connect() as connection:
            return {"service": self.name, "volunteer_id": volunteer_id,
                    "tables": await export_volunteer(connection, self.definition.metadata, volunteer_id)}


# DATABASE_URL query parameters SQLAlchemy's asyncpg dialect takes for itself.
_DIALECT_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func")


def listener_connect_args(engine) -> dict:  # noqa: ANN001 - an AsyncEngine
    """asyncpg.connect() arguments for the engine's database, as the engine itself
    connects: `?ssl=require` and the like included (a URL string would not carry them)."""
    _, arguments = engine.dialect.create_connect_args(engine.url)
    return {name: value for name, value in arguments.items() if name not in _DIALECT_ONLY}


async def export_from(runtimes: list[ServiceRuntime], volunteer_id: str) -> dict:
    """One document of what each of these services holds about a person."""
    return export_document(volunteer_id, {runtime.name: (await runtime.export(volunteer_id))["tables"]
                                          for runtime in runtimes})


def combined_app(runtimes: list[ServiceRuntime], settings: Settings) -> FastAPI:
    """`dankjewel run all`: each service's API under /<service>, and one admin
    endpoint that returns what every service holds about a person."""
    app = harden(FastAPI(title="dankjewel (all services)"), settings)

    @app.get("/volunteers/{volunteer_id}/export", tags=["privacy"], dependencies=[runtimes[0].auth.requires("admin")])
    async def export(volunteer_id: SafeId) -> dict:
        """Everything dankjewel holds about one volunteer, from every service (GDPR art. 15/20)."""
        return await export_from(runtimes, volunteer_id)

    app.include_router(runtimes[0].events_router())
    for runtime in runtimes:
        # The console offers administrators the same document as a download.
        runtime.export_everywhere = functools.partial(export_from, runtimes)
        app.mount(f"/{runtime.name}", runtime.http_app())
    return app
