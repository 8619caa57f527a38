"""Kafka and PostgreSQL for the benchmark: the servers named by
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL, else our own, started with the project's
deploy scripts on loopback and stopped (and wiped) at the end."""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor

from tests.infra import fresh_local_kafka, fresh_local_postgres


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Servers:
    """Use or start Kafka and PostgreSQL; `stop()` stops only what `start()` started."""

    def __init__(self, kafka_port: int, pg_port: int) -> None:
        self.kafka_port = kafka_port
        self.pg_port = pg_port
        self.kafka_bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        self.database_url = os.environ.get("DATABASE_URL") or None
        self.kafka = None
        self.postgres = None
        self.own_kafka = self.own_pg = False  # kept after stop(), for the report

    def _start_kafka(self) -> None:
        self.kafka = fresh_local_kafka(self.kafka_port, "bench")
        self.own_kafka = True
        self.kafka_bootstrap = self.kafka.bootstrap

    def _start_pg(self) -> None:
        self.postgres, self.database_url = fresh_local_postgres(self.pg_port, "bench")
        self.own_pg = True

    def start(self) -> None:
        jobs = []
        with ThreadPoolExecutor(max_workers=2) as pool:
            if self.kafka_bootstrap is None:
                _say(f"starting Kafka on 127.0.0.1:{self.kafka_port} (deploy/kafka/kafka.sh)")
                jobs.append(pool.submit(self._start_kafka))
            if self.database_url is None:
                _say(f"starting PostgreSQL on 127.0.0.1:{self.pg_port} (deploy/postgres/postgres.sh)")
                jobs.append(pool.submit(self._start_pg))
            for job in jobs:
                job.result()
        for address in (self.kafka_bootstrap or "").split(","):
            host = address.rsplit(":", 1)[0]
            if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
                raise RuntimeError(f"the benchmark only talks to loopback; KAFKA_BOOTSTRAP_SERVERS names {host}")

    def stop(self) -> None:
        for server in (self.kafka, self.postgres):
            if server is not None:
                server.stop()
                shutil.rmtree(server.data_dir, ignore_errors=True)
        self.kafka = self.postgres = None
