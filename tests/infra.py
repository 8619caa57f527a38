"""The real Kafka broker and PostgreSQL server the integration tests use.

Order of preference, for each: an existing server named by the environment
(KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL); else testcontainers when a Docker engine
answers; else the project's own scripts under deploy/ (Kafka from Maven Central,
PostgreSQL from Debian's package). A server that cannot be had fails the run:
integration tests are never skipped silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_KAFKA_PORT = int(os.environ.get("TEST_KAFKA_PORT", "19092"))
TEST_PG_PORT = int(os.environ.get("TEST_PG_PORT", "15433"))


def docker_engine_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class LocalKafka:
    """The broker started by deploy/kafka/kafka.sh; can be stopped and started (fault tests)."""

    port: int
    data_dir: Path
    env: dict = field(init=False)

    def __post_init__(self) -> None:
        self.env = os.environ | {"KAFKA_PORT": str(self.port), "KAFKA_DATA_DIR": str(self.data_dir)}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, action: str) -> None:
        result = subprocess.run([str(ROOT / "deploy/kafka/kafka.sh"), action], env=self.env,
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"deploy/kafka/kafka.sh {action} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


@dataclass
class LocalPostgres:
    """The server started by deploy/postgres/postgres.sh in its own data folder."""

    port: int
    data_dir: Path

    @property
    def env(self) -> dict:
        return os.environ | {"PG_PORT": str(self.port), "PG_DATA_DIR": str(self.data_dir)}

    def start(self) -> str:
        """Stop a leftover, start afresh; returns the DATABASE_URL."""
        script = str(ROOT / "deploy/postgres/postgres.sh")
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)  # postgres.sh creates it with the right owner
        result = subprocess.run([script, "start"], env=self.env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"deploy/postgres/postgres.sh start failed:\n{result.stderr}")
        return result.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        subprocess.run([str(ROOT / "deploy/postgres/postgres.sh"), "stop"], env=self.env, capture_output=True,
                       timeout=120)


def ensure_chromium() -> str:
    """The path of Debian's Chromium for the browser tests, installed by
    deploy/chromium/chromium.sh when missing (as root). A missing browser fails the
    test that needs it, with the script's advice: never a skip."""
    result = subprocess.run([str(ROOT / "deploy/chromium/chromium.sh"), "ensure"], capture_output=True, text=True,
                            timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"deploy/chromium/chromium.sh ensure failed:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def fresh_local_kafka(port: int, name: str) -> LocalKafka:
    """A broker in a fixed folder per port: a leftover of an interrupted run is
    stopped and wiped rather than blocking the port."""
    kafka = LocalKafka(port, Path(tempfile.gettempdir()) / f"dankjewel-{name}-kafka-{port}")
    kafka.stop()
    shutil.rmtree(kafka.data_dir, ignore_errors=True)
    kafka.start()
    return kafka


def fresh_local_postgres(port: int, name: str) -> tuple[LocalPostgres, str]:
    postgres = LocalPostgres(port, Path(tempfile.gettempdir()) / f"dankjewel-{name}-pg-{port}")
    return postgres, postgres.start()


@dataclass
class Infrastructure:
    kafka_bootstrap: str
    database_url: str
    local_kafka: LocalKafka | None


def start_infrastructure(stack: ExitStack) -> Infrastructure:
    docker = None  # decided lazily: `docker info` costs a second or more

    def use_docker() -> bool:
        nonlocal docker
        if docker is None:
            docker = docker_engine_available()
        return docker

    local_kafka = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        if use_docker():
            from tests.kafka_container import ApacheKafkaContainer

            # The official apache/kafka image, as docker-compose.yml runs it (testcontainers'
            # own KafkaContainer configures Confluent's image only).
            container = stack.enter_context(ApacheKafkaContainer())
            bootstrap = container.get_bootstrap_server()
        else:
            local_kafka = fresh_local_kafka(TEST_KAFKA_PORT, "test")
            stack.callback(shutil.rmtree, local_kafka.data_dir, True)
            stack.callback(local_kafka.stop)
            bootstrap = local_kafka.bootstrap

    database_url = os.environ.get("DATABASE_URL")
    if database_url and not database_url.startswith("postgres"):
        raise RuntimeError("integration tests run on PostgreSQL; DATABASE_URL points elsewhere")
    if not database_url:
        if use_docker():
            from testcontainers.postgres import PostgresContainer

            container = stack.enter_context(PostgresContainer("postgres:16-alpine", driver="asyncpg"))
            database_url = container.get_connection_url()
        else:
            postgres, database_url = fresh_local_postgres(TEST_PG_PORT, "test")
            stack.callback(shutil.rmtree, postgres.data_dir, True)
            stack.callback(postgres.stop)
    return Infrastructure(bootstrap, database_url, local_kafka)
