"""Configuration from environment variables (names are part of the public contract).

This module holds what every service reads: Kafka, the database, HTTP, operations and
the organisation (time zone, rules file, coordinators). Each service declares the
variables only it reads in its own `settings.py`, as a subclass of `Settings`, named
on its ServiceDefinition; `services/settings.py` joins them into the configuration
the CLI loads. A missing or invalid setting stops start-up with a message naming
the variable.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import EmailStr, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/dankjewel.db"
LOCAL_ENV_FILE = "var/local.env"
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


S = TypeVar("S", bound="Settings")


class SettingsError(Exception):
    """Raised when the environment does not describe a usable configuration."""


class Settings(BaseSettings):
    # var/local.env holds the secrets `make run` generated for a local run (it exists
    # only where `make run` made it); variables set in the environment win over it.
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, env_file=LOCAL_ENV_FILE)

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_group_prefix: str = Field(default="dankjewel", min_length=1)
    kafka_pii_retention_days: int = Field(default=30, ge=1, description="Retention of new topics that carry "
                                          "personal data (volunteers.*, *.dlq)")
    kafka_partitions: int = Field(default=3, ge=1, description="Partitions of the topics dankjewel creates "
                                  "(existing topics are left alone; a different count is warned about)")
    kafka_replication_factor: int = Field(default=1, ge=1, description="Replicas of each partition of the "
                                          "topics dankjewel creates (at most the number of brokers)")

    # Database: SQLite is the embedded default for a quick local run.
    database_url: str = DEFAULT_DATABASE_URL

    # Organisation
    org_timezone: str = "Europe/Amsterdam"
    rules_file: Path | None = None
    coordinator_language: Literal["nl", "en"] = "nl"
    default_coordinator_email: EmailStr = "coordinator@example.org"
    org_lead_email: EmailStr | None = Field(default=None, description="Escalations go here; "
                                            "defaults to DEFAULT_COORDINATOR_EMAIL")
    # Comma-separated; empty: no restriction. NoDecode: the environment value is a
    # plain list, not JSON.
    coordinator_email_domains: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Coordinator addresses from events outside these domains (or their "
                                "subdomains) are replaced by DEFAULT_COORDINATOR_EMAIL")
    sweep_interval_seconds: float = Field(default=900, gt=0, description="How often time-based rules run")

    # HTTP
    api_tokens_file: Path = Field(default=Path("var/api-tokens.json"),
                                  description="Hashes of the API tokens (`dankjewel tokens create`)")
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    allowed_hosts: str = Field(default="localhost,127.0.0.1",
                               description="Comma-separated Host names the HTTP API answers; * for any")
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, ge=1, le=65535,
                                  description="Default: 8000 for `run all`, the service's own port otherwise")

    # Operations
    log_format: Literal["text", "json"] = Field(default="text", description="json: one JSON object per log line")
    # OpenTelemetry's own variable name: spans go there over OTLP/HTTP (needs the `otel` extra).
    otel_exporter_otlp_endpoint: str | None = Field(default=None, description="e.g. http://127.0.0.1:4318; "
                                                    "unset: no spans are exported")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or any(":" not in s or not s.rsplit(":", 1)[1].isdigit() for s in servers):
            raise ValueError("expected host:port[,host:port...], e.g. 127.0.0.1:9092")
        return ",".join(servers)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # Accept the common libpq form and use the async driver the services need.
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (value.startswith("postgresql+asyncpg://") or value.startswith("sqlite+aiosqlite://")):
            raise ValueError("expected postgresql+asyncpg://… or sqlite+aiosqlite:///path")
        return value

    @field_validator("org_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Amsterdam") from error
        return value

    @field_validator("rules_file")
    @classmethod
    def _rules_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("coordinator_email_domains", mode="before")
    @classmethod
    def _domain_list(cls, value: object) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        domains = tuple(str(item).strip().lower() for item in items if str(item).strip())
        bad = [d for d in domains if not DOMAIN.match(d)]
        if bad:
            raise ValueError(f"not a domain: {bad[0]!r}; expected e.g. example.org,vrijwilligers.example.org")
        return domains

    @property
    def lead_email(self) -> str:
        return self.org_lead_email or self.default_coordinator_email

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.org_timezone)

    def cleartext_warnings(self) -> list[str]:
        """What this configuration sends unencrypted that should not be; one line each,
        naming settings only (no secrets, no addresses)."""
        warnings = []
        if self.kafka_security_protocol == "SASL_PLAINTEXT":
            warnings.append("KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT: the Kafka login (with SASL PLAIN) and "
                            "every event travel unencrypted; use SASL_SSL")
        return warnings

    def kafka_client_options(self) -> dict:
        """Connection options shared by every aiokafka client (security included)."""
        options: dict = {
            "bootstrap_servers": self.kafka_bootstrap_servers,
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_security_protocol.startswith("SASL"):
            if not (self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password):
                raise SettingsError(
                    "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, "
                    "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
                )
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_sasl_username,
                "sasl_plain_password": self.kafka_sasl_password.get_secret_value(),
            }
        if self.kafka_security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context(
                cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None,
                certfile=str(self.kafka_ssl_certfile) if self.kafka_ssl_certfile else None,
                keyfile=str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None,
            )
        return options


# Secrets this repository once shipped as defaults or examples: public, so never accepted.
SHIPPED_SECRETS = frozenset({"dankjewel-development-secret", "a-test-secret-of-enough-length",
                             "another-secret-entirely"})
MIN_SECRET_LENGTH = 32


def secret_problem(value: str | None) -> str | None:
    """Why `value` cannot serve as a secret, or None when it can."""
    if not value:
        return "is not set"
    if value in SHIPPED_SECRETS:
        return "is a value published in the dankjewel repository"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def require_secret(settings: Settings, field: str) -> str:
    """The secret in `field`, or SettingsError naming its variable and how to make one."""
    value = getattr(settings, field)
    problem = secret_problem(value.get_secret_value() if value is not None else None)
    if problem:
        raise SettingsError(f"{field.upper()} {problem}: set it to a random value of at least "
                            f"{MIN_SECRET_LENGTH} characters, e.g. the output of "
                            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    return value.get_secret_value()


def load_settings(settings_class: type[S] = Settings, /, **overrides) -> S:
    """Read the environment into `settings_class` (a service's, or the whole
    configuration of services/settings.py); raise SettingsError naming each bad variable."""
    try:
        settings = settings_class(**overrides)
        settings.kafka_client_options()
    except ValidationError as error:
        lines = []
        for problem in error.errors(include_input=False, include_url=False):
            if not problem["loc"]:  # a check across settings: its message names them
                lines.append("  " + problem["msg"].removeprefix("Value error, "))
                continue
            name = str(problem["loc"][0]).upper()
            lines.append(f"  {name}: {problem['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
    return settings


def coordinator_address(address: str | None, settings: Settings) -> tuple[str, bool]:
    """Where mail meant for the coordinator at `address` (taken from an event) may go:
    `address` itself, or DEFAULT_COORDINATOR_EMAIL when COORDINATOR_EMAIL_DOMAINS is
    set and its domain is neither one of them nor a subdomain of one. The flag says
    whether it was replaced (the caller logs that, without the address). Mail about
    a volunteer then stays inside the organisation whatever an event claims."""
    if not address:
        return settings.default_coordinator_email, False
    allowed = settings.coordinator_email_domains
    domain = address.rpartition("@")[2].strip().lower().rstrip(".")
    if not allowed or any(domain == d or domain.endswith("." + d) for d in allowed):
        return address, False
    return settings.default_coordinator_email, True
