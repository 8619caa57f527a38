"""docker-compose.yml cannot run on a machine without Docker; check what can be checked."""

import fnmatch
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

from services.registry import all_services
from shared.contracts import CATALOGUE
from shared.kafka import carries_personal_data
from services.settings import DankjewelSettings as Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
REQUIRED = re.compile(r"\$\{(?P<name>\w+):\?(?P<message>[^}]+)\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|PRIVATE_KEY|_TOKEN$", re.IGNORECASE)
STAND_IN = "s" * 40  # what a required variable is set to when a value is checked


def interpolate(text: str) -> str:
    """Compose's interpolation with nothing set in the environment: defaults are used,
    a required variable gets a stand-in value; an unset optional one is an error here
    (compose would silently make it empty)."""
    def value(match: re.Match) -> str:
        if match["op"] in (":-", "-"):
            return match["arg"]
        if match["op"] in (":?", "?"):
            return STAND_IN
        raise AssertionError(f"${{{match['name']}}} has no default and is not required")
    return VARIABLE.sub(value, str(text).replace("$$", "\0")).replace("\0", "$")


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def published(service: dict) -> list[tuple[str | None, str, str]]:
    """(host ip, host port, container port) of each published port, defaults applied."""
    result = []
    for port in service.get("ports") or ():
        if isinstance(port, dict):  # long syntax
            result.append((port.get("host_ip"), str(port.get("published", "")), str(port["target"])))
            continue
        parts = interpolate(port).split("/")[0].split(":")
        if len(parts) == 1:  # "8000": a random host port on every interface
            result.append((None, "", parts[0]))
        elif len(parts) == 2:  # "8000:8000": every interface
            result.append((None, parts[0], parts[1]))
        else:
            result.append((":".join(parts[:-2]).strip("[]"), parts[-2], parts[-1]))
    return result


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
        env = environment(SERVICES[name])
        assert set(env) <= known, set(env) - known
        assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "SMTP_HOST", "API_TOKENS_FILE"} <= set(env)
        # The values are valid too, with the defaults (and stand-ins for required values).
        assert Settings(**{k.lower(): interpolate(v) for k, v in env.items()})


def test_every_topic_and_dead_letter_topic_is_created():
    words = set(re.findall(r"[\w.-]+", SERVICES["kafka-topics"]["command"][0]))
    script = SERVICES["kafka-topics"]["command"][0]
    assert '"$$topic.dlq"' in script  # every topic gets its dead-letter topic
    assert {e.topic for e in CATALOGUE} <= words


def test_topics_with_personal_data_get_the_pii_retention():
    script = SERVICES["kafka-topics"]["command"][0]
    pattern = re.search(r"^\s*(volunteers\.\*\|[^)]*)\)$", script, re.MULTILINE).group(1).split("|")
    every_topic = {e.topic for e in CATALOGUE} | {f"{e.topic}.dlq" for e in CATALOGUE}
    compose_says = {topic for topic in every_topic if any(fnmatch.fnmatchcase(topic, p) for p in pattern)}
    assert compose_says == {topic for topic in every_topic if carries_personal_data(topic)}  # the services' rule
    assert "retention.ms=" in script and "KAFKA_PII_RETENTION_DAYS" in script
    assert "kafka-configs.sh" in script  # also on topics that existed before
    assert interpolate(environment(SERVICES["kafka-topics"])["KAFKA_PII_RETENTION_DAYS"]) == "30"


# --- secure by default -----------------------------------------------------------------


def test_only_the_http_apis_and_mailpits_web_ui_publish_ports():
    publishing = {name for name, service in SERVICES.items() if service.get("ports")}
    assert publishing == set(all_services()) | {"mailpit"}
    assert [container for _, _, container in published(SERVICES["mailpit"])] == ["8025"]  # not SMTP (1025)
    for name in all_services():
        assert [container for _, _, container in published(SERVICES[name])] == ["8000"]
    for name in ("postgres", "kafka", "kafka-topics"):
        assert not SERVICES[name].get("expose"), f"{name} exposes ports"


def test_every_published_port_binds_loopback_by_default():
    ports = [(name, port) for name, service in SERVICES.items() for port in published(service)]
    assert ports
    for name, (host_ip, host_port, _) in ports:
        assert host_ip == "127.0.0.1", f"{name} publishes on {host_ip or 'every interface'}"
        assert host_port.isdigit(), f"{name}: pick the host port, not a random one"


def test_the_publish_address_can_be_changed_without_editing_the_file():
    for name, service in SERVICES.items():
        for port in service.get("ports") or ():
            assert VARIABLE.match(str(port)), f"{name}: {port!r} is not ${{VAR:-127.0.0.1:PORT}}:PORT"


def test_no_password_or_secret_has_a_literal_value():
    for name, service in SERVICES.items():
        for variable, value in environment(service).items():
            if SECRET_NAME.search(variable) and not variable.endswith("_FILE"):
                assert REQUIRED.fullmatch(value), f"{name}: {variable} must be ${{{variable}:?…}}, not a value"


def test_the_database_url_takes_the_password_from_the_environment():
    password = REQUIRED.fullmatch(environment(SERVICES["postgres"])["POSTGRES_PASSWORD"])
    assert password and password["name"] == "POSTGRES_PASSWORD"
    for name in all_services():
        url = environment(SERVICES[name])["DATABASE_URL"]
        userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
        user, secret = userinfo.split(":", 1)
        assert user == environment(SERVICES["postgres"])["POSTGRES_USER"]
        assert REQUIRED.fullmatch(secret) and REQUIRED.fullmatch(secret)["name"] == "POSTGRES_PASSWORD", name
        assert urlsplit(interpolate(url)).hostname == "postgres"


def test_the_secrets_the_services_need_are_required():
    required = {match["name"] for service in SERVICES.values()
                for value in environment(service).values() for match in REQUIRED.finditer(value)}
    assert {"POSTGRES_PASSWORD", "UNSUBSCRIBE_SECRET"} <= required
    assert REQUIRED.fullmatch(environment(SERVICES["appreciation"])["UNSUBSCRIBE_SECRET"])


def test_services_reach_infrastructure_inside_the_compose_network():
    for name in all_services():
        env = environment(SERVICES[name])
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["SMTP_HOST"] == "mailpit"
    listeners = environment(SERVICES["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    assert "localhost" not in listeners and "127.0.0.1" not in listeners


def mounts(service: dict) -> dict[str, str]:
    """Container path → source (a named volume or a host path) of each mount, defaults applied."""
    result = {}
    for mount in service.get("volumes") or ():
        if isinstance(mount, dict):  # long syntax
            result[mount["target"]] = interpolate(mount.get("source", ""))
        else:
            source, target = interpolate(mount).split(":")[:2]
            result[target] = source
    return result


def test_named_volumes_keep_the_database_and_the_broker():
    volumes = set(COMPOSE.get("volumes") or ())
    assert mounts(SERVICES["postgres"]).get("/var/lib/postgresql/data") in volumes
    log_dir = environment(SERVICES["kafka"])["KAFKA_LOG_DIRS"]
    assert mounts(SERVICES["kafka"]).get(log_dir) in volumes


def test_the_api_token_file_is_on_a_mounted_folder():
    for name in all_services():
        tokens = PurePosixPath(environment(SERVICES[name])["API_TOKENS_FILE"])
        assert str(tokens.parent) in mounts(SERVICES[name]), f"{name}: {tokens} is not on a mounted folder"


def test_the_comment_says_how_to_create_a_token():
    text = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"docker compose run --rm( --no-deps)? \w+ dankjewel tokens create \S+ --scope", text)
