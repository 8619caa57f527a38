"""The system under test: Kafka, PostgreSQL (behind a cuttable proxy), a recording
SMTP server, and the four services as separate processes that can be killed."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.contracts import CATALOGUE, dlq_topic
from services.appreciation.settings import AppreciationSettings
from tests.infra import ROOT, LocalKafka, LocalPostgres, fresh_local_kafka, fresh_local_postgres
from tests.smtp_server import RecordingSmtp
from tests.tcp_proxy import TcpProxy

SERVICES = ("registration", "tasks", "checkins", "appreciation")
# Below Linux's ephemeral range (32768-60999): while the broker-restart scenario has
# the broker down, an outgoing connection could otherwise take its port (a restart
# failed once with "Address already in use" on 59292, inside that range).
KAFKA_PORT = int(os.environ.get("FAULTS_KAFKA_PORT", "29192"))
PG_PORT = int(os.environ.get("FAULTS_PG_PORT", "25433"))
HTTP_BASE_PORT = 18100


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.kafka: LocalKafka | None = None
        self.postgres: LocalPostgres | None = None
        self.bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.database_url = os.environ.get("DATABASE_URL", "")
        self.smtp = RecordingSmtp(free_port())
        self.db_proxy: TcpProxy | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.group_prefix = "faults"
        self.unexpected_exits = 0
        # Accepted but unrecorded mails a killed sender can leave: two per SMTP connection
        # (services/appreciation/mailer.py).
        self.mails_in_flight = 2 * AppreciationSettings().mail_connections
        self.unsubscribe_secret = secrets.token_urlsafe(32)  # this run's own: the repository ships none
        self.kills: list[tuple[str, float]] = []  # (service, time.monotonic()) of each SIGKILL
        self.log_files: set[Path] = set()

    # infrastructure -------------------------------------------------------
    async def start(self) -> None:
        if not self.bootstrap:
            self.kafka = fresh_local_kafka(KAFKA_PORT, "faults")
            self.bootstrap = self.kafka.bootstrap
        if not self.database_url:
            self.postgres, self.database_url = fresh_local_postgres(PG_PORT, "faults")
        url = urlsplit(self.database_url)
        self.db_proxy = TcpProxy(url.hostname, url.port or 5432)
        await self.db_proxy.start()
        self.proxied_database_url = urlunsplit(url._replace(
            netloc=f"{url.username}:{url.password}@127.0.0.1:{self.db_proxy.port}"))
        self.smtp.start()

    async def stop(self) -> None:
        await self.stop_services()
        self.smtp.stop()
        if self.db_proxy:
            await self.db_proxy.stop()
        if self.kafka:
            self.kafka.stop()
        if self.postgres:
            self.postgres.stop()

    async def reset(self, scenario: str) -> None:
        """A clean slate: no topics, no tables, no mail."""
        self.group_prefix = f"faults-{scenario}-{int(time.time())}"
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            ours = {t.topic for t in CATALOGUE} | {dlq_topic(t.topic) for t in CATALOGUE}
            if existing & ours:
                await admin.delete_topics(sorted(existing & ours))
                for _ in range(60):
                    if not set(await admin.list_topics()) & ours:
                        break
                    await asyncio.sleep(0.5)
        finally:
            await admin.close()
        engine = create_async_engine(self.database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        self.smtp.clear()
        self.smtp.temporary_failure = False
        self.kills.clear()

    # services ---------------------------------------------------------------
    def environment(self, service: str) -> dict:
        return os.environ | {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.proxied_database_url,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.smtp.port), "KAFKA_GROUP_PREFIX": self.group_prefix,
            "HTTP_PORT": str(HTTP_BASE_PORT + SERVICES.index(service)), "MAIL_RETRY_SECONDS": "0.5",
            "MAIL_RETRY_MAX_SECONDS": "2", "SWEEP_INTERVAL_SECONDS": "3600", "PYTHONUNBUFFERED": "1",
            "UNSUBSCRIBE_SECRET": self.unsubscribe_secret}

    def start_service(self, service: str) -> None:
        path = self.log_dir / f"{self.group_prefix}-{service}.log"
        self.log_files.add(path)
        log = open(path, "ab")
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "run", service], cwd=ROOT, env=self.environment(service),
            stdout=log, stderr=subprocess.STDOUT)

    async def start_services(self) -> None:
        for service in SERVICES:
            self.start_service(service)
        await asyncio.gather(*(self.wait_healthy(service) for service in SERVICES))

    async def wait_healthy(self, service: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{HTTP_BASE_PORT + SERVICES.index(service)}/health"
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.processes[service].poll() is not None:
                    raise RuntimeError(f"{service} exited during start; see {self.log_dir}")
                try:
                    if (await client.get(url, timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise RuntimeError(f"{service} did not become healthy within {timeout}s")

    def kill(self, service: str) -> None:
        self.kills.append((service, time.monotonic()))
        self.processes[service].send_signal(signal.SIGKILL)
        self.processes[service].wait()

    async def stop_services(self) -> None:
        # Async on purpose: this loop also runs the database proxy the services
        # need to shut down cleanly; a blocking wait here would stall them.
        for service, process in self.processes.items():
            if process.poll() is not None:
                self.unexpected_exits += 1
                continue
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while any(p.poll() is None for p in self.processes.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self.processes.clear()

    def crashes_logged(self) -> int:
        return sum(path.read_text(errors="replace").count("crashed; restarting")
                   for path in self.log_dir.glob(f"{self.group_prefix}-*.log"))

    def personal_data_logged(self) -> int:
        """Volunteers' addresses and names (the mix names everyone "Vrijwilliger N") in the services' logs."""
        return sum(text.count("@example.org") + text.count("Vrijwilliger ")
                   for text in (path.read_text(errors="replace") for path in self.log_files))
