"""The Kafka container for machines with Docker (tests/kafka_container.py), checked
without a Docker engine: the image, its KAFKA_* configuration, the published port."""

from __future__ import annotations

import socket

import pytest
import testcontainers.core.container as tc_container
from testcontainers.core.config import testcontainers_config

from tests.kafka_container import (
    KAFKA_IMAGE,
    ApacheKafkaContainer,
    free_local_port,
    kafka_environment,
)


class NoEngine:
    """Stands in for testcontainers' DockerClient, whose constructor asks the engine."""

    def __init__(self, **kwargs):
        pass


@pytest.fixture
def container(monkeypatch):
    monkeypatch.setattr(tc_container, "DockerClient", NoEngine)
    return ApacheKafkaContainer(host_port=41234)


def properties(env: dict[str, str]) -> dict[str, str]:
    """server.properties as the official image renders it from KAFKA_* variables
    (kafka.docker.KafkaDockerWrapper: KAFKA_FOO_BAR -> foo.bar)."""
    return {key.removeprefix("KAFKA_").lower().replace("_", "."): value
            for key, value in env.items() if key.startswith("KAFKA_")}


def listeners(value: str) -> dict[str, str]:
    return dict(entry.split("://") for entry in value.split(","))


def test_the_official_apache_kafka_image_4_1_1():
    assert KAFKA_IMAGE == "apache/kafka:4.1.1"


def test_one_node_is_broker_and_controller_in_kraft_mode():
    props = properties(kafka_environment(41234))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["controller.quorum.voters"] == "1@localhost:29093"
    assert listeners(props["listeners"])["CONTROLLER"] == "localhost:29093"
    assert "CONTROLLER" not in listeners(props["advertised.listeners"])
    assert kafka_environment(41234)["CLUSTER_ID"]  # the image formats storage with it


def test_clients_on_this_machine_are_sent_to_the_published_port():
    props = properties(kafka_environment(41234))
    assert listeners(props["listeners"]) == {
        "PLAINTEXT": "localhost:29092", "CONTROLLER": "localhost:29093", "PLAINTEXT_HOST": "0.0.0.0:9092"}
    assert listeners(props["advertised.listeners"]) == {
        "PLAINTEXT": "localhost:29092", "PLAINTEXT_HOST": "127.0.0.1:41234"}
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    protocols = dict(entry.split(":") for entry in props["listener.security.protocol.map"].split(","))
    assert protocols == {"CONTROLLER": "PLAINTEXT", "PLAINTEXT": "PLAINTEXT", "PLAINTEXT_HOST": "PLAINTEXT"}


def test_internal_topics_fit_a_single_broker():
    props = properties(kafka_environment(41234))
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["share.coordinator.state.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "3"  # as deploy/kafka/kafka.sh and docker-compose.yml


def test_the_container_carries_the_configuration_and_publishes_on_loopback(container):
    assert container.image == testcontainers_config.hub_image_name_prefix + "apache/kafka:4.1.1"
    assert container.env == kafka_environment(41234)
    assert container.ports == {"9092": ("127.0.0.1", 41234)}
    assert container._command is None  # the image's own /etc/kafka/docker/run
    assert container.get_bootstrap_server() == "127.0.0.1:41234"


def test_the_container_is_ready_when_kafka_says_it_started(container):
    strategy = container._wait_strategy
    assert strategy._message.search("[2026-01-01 10:00:00,000] INFO [KafkaRaftServer nodeId=1] "
                                    "Kafka Server started (kafka.server.KafkaRaftServer)")
    assert not strategy._message.search("[KafkaRaftServer nodeId=1] Kafka Server starting")
    assert strategy._startup_timeout >= 60


def test_without_a_port_a_free_one_is_chosen_and_advertised(monkeypatch):
    monkeypatch.setattr(tc_container, "DockerClient", NoEngine)
    container = ApacheKafkaContainer()
    assert container.ports == {"9092": ("127.0.0.1", container.host_port)}
    assert container.env["KAFKA_ADVERTISED_LISTENERS"].endswith(f"PLAINTEXT_HOST://127.0.0.1:{container.host_port}")


def test_the_free_port_can_be_listened_on():
    port = free_local_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
