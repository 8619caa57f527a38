"""A testcontainers container for the official Apache Kafka image (`apache/kafka`).

testcontainers' own KafkaContainer configures Confluent's image: its KRaft check reads
the tag as a Confluent Platform version (``apache/kafka:4.1.1`` fails it) and its start
script runs Confluent's /etc/confluent/docker scripts, which the official image lacks.

The official image configures the broker from ``KAFKA_*`` environment variables
(``KAFKA_FOO_BAR`` becomes ``foo.bar`` in server.properties) and starts with its own
command, /etc/kafka/docker/run; nothing here overrides that command. One node is broker
and controller (KRaft combined mode), laid out like the image's own defaults:

    PLAINTEXT       localhost:29092 inside the container, between broker and itself
    CONTROLLER      localhost:29093 inside the container, the KRaft quorum
    PLAINTEXT_HOST  0.0.0.0:9092, published on 127.0.0.1:<host_port> of this machine

The broker must advertise the address clients on this machine reach it at, so the host
port is chosen before start (a free port on 127.0.0.1) rather than left to Docker:
``advertised.listeners`` then carries it from the first moment, with no start script.
The Docker engine must publish ports on this machine's loopback (a local engine, Docker
Desktop); for a remote engine, name a broker with KAFKA_BOOTSTRAP_SERVERS instead.
"""

from __future__ import annotations

import socket

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

KAFKA_IMAGE = "apache/kafka:4.1.1"
CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"  # any base64 UUID; every container formats its own storage
HOST_LISTENER_PORT = 9092  # inside the container; the image EXPOSEs it
HOST_IP = "127.0.0.1"
# Logged by kafka.server.KafkaRaftServer once broker and controller have started.
STARTED_LOG_LINE = r"Kafka Server started"
STARTUP_TIMEOUT_SECONDS = 120


def free_local_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 just now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST_IP, 0))
        return probe.getsockname()[1]


def kafka_environment(host_port: int) -> dict[str, str]:
    """The official image's configuration for one broker+controller node whose
    PLAINTEXT_HOST listener is published on 127.0.0.1:host_port."""
    return {
        "CLUSTER_ID": CLUSTER_ID,
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": (
            f"PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,"
            f"PLAINTEXT_HOST://0.0.0.0:{HOST_LISTENER_PORT}"
        ),
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:29092,PLAINTEXT_HOST://{HOST_IP}:{host_port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:29093",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        # As deploy/kafka/kafka.sh and docker-compose.yml: topics the tests create on
        # first use get the same partition count everywhere.
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "true",
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
    }


class ApacheKafkaContainer(DockerContainer):
    """One Kafka node (broker+controller, KRaft) from the official image.

    >>> with ApacheKafkaContainer() as kafka:
    ...     bootstrap = kafka.get_bootstrap_server()   # "127.0.0.1:<port>"
    """

    def __init__(self, image: str = KAFKA_IMAGE, host_port: int | None = None, **kwargs) -> None:
        super().__init__(image, **kwargs)
        self.host_port = host_port if host_port is not None else free_local_port()
        self.with_envs(**kafka_environment(self.host_port))
        # Published on loopback only: the broker has no login.
        self.ports[str(HOST_LISTENER_PORT)] = (HOST_IP, self.host_port)  # type: ignore[assignment]
        self.waiting_for(LogMessageWaitStrategy(STARTED_LOG_LINE).with_startup_timeout(STARTUP_TIMEOUT_SECONDS))

    def get_bootstrap_server(self) -> str:
        return f"{HOST_IP}:{self.host_port}"
