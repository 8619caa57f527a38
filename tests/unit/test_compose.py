"""docker-compose.yml cannot run on a machine without Docker; check what can be checked."""

import re
from pathlib import Path

import yaml

from services.registry import all_services
from shared.contracts import CATALOGUE
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_infrastructure_and_every_service_are_there():
    assert {"kafka", "postgres", "mailpit", "kafka-topics"} | set(all_services()) == set(SERVICES)
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["mailpit"]["image"].startswith("axllent/mailpit")


def test_long_running_containers_have_health_checks():
    for name, service in SERVICES.items():
        if name != "kafka-topics":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


def test_each_service_is_built_from_the_dockerfile_and_runs_itself():
    for name in all_services():
        service = SERVICES[name]
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        assert service["command"] == ["run", name]


def test_service_environment_uses_only_settings_the_code_reads():
    known = {name.upper() for name in Settings.model_fields}
    for name in all_services():
        environment = SERVICES[name]["environment"]
        assert set(environment) <= known, set(environment) - known
        assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SMTP_HOST"} <= set(environment)
        assert Settings(**{k.lower(): v for k, v in environment.items()})  # values are valid too


def test_every_topic_and_dead_letter_topic_is_created():
    words = set(re.findall(r"[\w.-]+", SERVICES["kafka-topics"]["command"][0]))
    script = SERVICES["kafka-topics"]["command"][0]
    assert '"$$topic.dlq"' in script  # every topic gets its dead-letter topic
    assert {e.topic for e in CATALOGUE} <= words
