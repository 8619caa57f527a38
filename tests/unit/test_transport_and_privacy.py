"""Secure by default: SMTP transport, coordinator addresses kept inside the
organisation, retention of topics with personal data, appreciations.sent without
an address."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from shared.metrics import ServiceMetrics
from services.appreciation import domain
from services.appreciation.mailer import MailSender
from shared import kafka
from shared.contracts import BY_TYPE, CATALOGUE, AppreciationSentV2
from shared.schemas import SCHEMA_DIR
from services.settings import load_settings
from shared.settings import SettingsError, coordinator_address

DEFAULT = "coordinator@example.org"
ORG = load_settings(coordinator_email_domains="vrijwilligers.example.org, Stichting.example.NL",
                    default_coordinator_email=DEFAULT, org_lead_email="lead@example.com")
OPEN = load_settings(default_coordinator_email=DEFAULT)


# --- coordinator addresses ----------------------------------------------------

@pytest.mark.parametrize(("settings", "address", "expected"), [
    (OPEN, "anyone@elsewhere.example.com", ("anyone@elsewhere.example.com", False)),  # no restriction set
    (OPEN, None, (DEFAULT, False)),
    (ORG, "jan@vrijwilligers.example.org", ("jan@vrijwilligers.example.org", False)),  # the domain itself
    (ORG, "jan@Vrijwilligers.Example.org", ("jan@Vrijwilligers.Example.org", False)),  # case does not matter
    (ORG, "jan@amsterdam.vrijwilligers.example.org", ("jan@amsterdam.vrijwilligers.example.org", False)),  # sub
    (ORG, "els@stichting.example.nl", ("els@stichting.example.nl", False)),
    (ORG, "eve@evilvrijwilligers.example.org", (DEFAULT, True)),  # a suffix is not a subdomain
    (ORG, "eve@vrijwilligers.example.org.attacker.example.com", (DEFAULT, True)),
    (ORG, "eve@example.org", (DEFAULT, True)),  # the parent domain is not allowed
    (ORG, "no-at-sign", (DEFAULT, True)),
    (ORG, None, (DEFAULT, False)),  # nothing given: the default, nothing replaced
    (ORG, "", (DEFAULT, False)),
])
def test_coordinator_address(settings, address, expected):
    assert coordinator_address(address, settings) == expected


@pytest.mark.parametrize(("audience", "context", "coordinator_email", "expected"), [
    # a follow-up's own coordinator, or its escalate_to, comes first
    ("coordinator", {"recipient": "jan@vrijwilligers.example.org"}, "x@vrijwilligers.example.org",
     ("jan@vrijwilligers.example.org", False)),
    ("coordinator", {"recipient": "contact@partner.example.com"}, None, (DEFAULT, True)),
    ("lead", {"recipient": "boss@partner.example.com"}, None, (DEFAULT, True)),
    # the volunteer's coordinator (from the registration)
    ("coordinator", {}, "jan@vrijwilligers.example.org", ("jan@vrijwilligers.example.org", False)),
    ("coordinator", {"recipient": None}, "contact@partner.example.com", (DEFAULT, True)),
    ("coordinator", {}, None, (DEFAULT, False)),
    # the lead comes from settings: never replaced
    ("lead", {}, "contact@partner.example.com", ("lead@example.com", False)),
])
def test_staff_recipient(audience, context, coordinator_email, expected):
    assert domain.staff_recipient(ORG, audience, context, coordinator_email) == expected


SENT_AT = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _mail(**values):
    row = dict(id=7, volunteer_id="v-42", audience="coordinator", context={}, email="vol@example.com",
               coordinator_email=None, language="nl", consent=True, unsubscribed_at=None, erased_at=None,
               registered_at=SENT_AT, created_at=SENT_AT, notification="first-shift-thanks",
               shift_reminder_consent=True) | values
    return SimpleNamespace(**row)


def test_the_sender_replaces_an_outside_coordinator_and_logs_without_the_address(caplog):
    sender = MailSender(SimpleNamespace(settings=ORG, metrics=ServiceMetrics("appreciation")))
    with caplog.at_level(logging.WARNING):
        recipient = sender._decide(_mail(context={"recipient": "contact@partner.example.com"}), SENT_AT).recipient
    assert recipient == DEFAULT
    assert "outside COORDINATOR_EMAIL_DOMAINS" in caplog.text and "v-42" in caplog.text
    assert "partner" not in caplog.text


def test_volunteer_mail_is_not_restricted(caplog):
    sender = MailSender(SimpleNamespace(settings=ORG, metrics=ServiceMetrics("appreciation")))
    with caplog.at_level(logging.WARNING):
        assert sender._decide(_mail(audience="volunteer", email="vol@gmail.example.com"),
                              SENT_AT).recipient == "vol@gmail.example.com"
    assert caplog.text == ""


def test_coordinator_email_domains_from_the_environment(monkeypatch):
    monkeypatch.setenv("COORDINATOR_EMAIL_DOMAINS", " Example.org,,vrijwilligers.example.NL ")
    assert load_settings().coordinator_email_domains == ("example.org", "vrijwilligers.example.nl")
    monkeypatch.setenv("COORDINATOR_EMAIL_DOMAINS", "")
    assert load_settings().coordinator_email_domains == ()
    monkeypatch.setenv("COORDINATOR_EMAIL_DOMAINS", "example.org,@example.nl")
    with pytest.raises(SettingsError, match="COORDINATOR_EMAIL_DOMAINS: Value error, not a domain"):
        load_settings()


# --- SMTP transport and clear-text warnings -------------------------------------

def test_smtp_tls_and_starttls_together_are_refused_naming_both(monkeypatch):
    monkeypatch.setenv("SMTP_TLS", "true")
    monkeypatch.setenv("SMTP_STARTTLS", "true")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "SMTP_TLS and SMTP_STARTTLS are both true" in str(refused.value)


async def test_smtp_tls_reaches_the_client(monkeypatch):
    import aiosmtplib

    seen = {}

    class FakeSmtp:
        def __init__(self, **options):
            seen.update(options)

        async def connect(self):
            pass

        async def login(self, username, password):
            pass

    monkeypatch.setattr(aiosmtplib, "SMTP", FakeSmtp)
    settings = load_settings(smtp_port=465, smtp_tls=True, smtp_username="u", smtp_password="p")
    await MailSender(SimpleNamespace(settings=settings, metrics=ServiceMetrics("appreciation")))._connect()
    assert (seen["port"], seen["use_tls"], seen["start_tls"]) == (465, True, False)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, []),
    ({"smtp_username": "u"}, ["SMTP_USERNAME"]),
    ({"smtp_username": "u", "smtp_starttls": True}, []),
    ({"smtp_username": "u", "smtp_tls": True}, []),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN",
      "kafka_sasl_username": "org", "kafka_sasl_password": "s3cret-pw"}, ["KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT"]),
    ({"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "PLAIN",
      "kafka_sasl_username": "org", "kafka_sasl_password": "s3cret-pw"}, []),
])
def test_cleartext_warnings(overrides, expected):
    warnings = load_settings(**overrides).cleartext_warnings()
    assert len(warnings) == len(expected)
    for warning, start in zip(warnings, expected):
        assert warning.startswith(start)
        assert "s3cret" not in warning and "org" not in warning.split(":")[0]


# --- topic retention -------------------------------------------------------------

@pytest.mark.parametrize(("topic", "personal"), [
    ("volunteers.registered", True),
    ("volunteers.updated", True),
    ("volunteers.erased", True),
    ("shifts.completed.dlq", True),  # a dead letter is kept whole
    ("volunteers.registered.dlq", True),
    ("help.offered", True),  # the coordinator's address
    ("followups.overdue", True),
    ("alerts.raised", True),
    ("opportunities.offered", True),  # the volunteer's interests and availability
    ("todos.done", True),  # a coordinator's note
    ("shifts.completed", False),
    ("milestones.reached", False),
    ("appreciations.sent", False),
    ("volunteersregistered", False),
])
def test_which_topics_carry_personal_data(topic, personal):
    assert kafka.carries_personal_data(topic) is personal


def test_personal_data_topics_get_the_retention():
    settings = load_settings(kafka_pii_retention_days=7)
    assert kafka.topic_configs("volunteers.registered", settings) == {"retention.ms": str(7 * 86_400_000)}
    assert kafka.topic_configs("shifts.completed", settings) == {}
    assert load_settings().kafka_pii_retention_days == 30
    with pytest.raises(SettingsError, match="KAFKA_PII_RETENTION_DAYS"):
        load_settings(kafka_pii_retention_days=0)


async def test_ensure_topics_creates_missing_topics_with_their_config_and_leaves_existing_ones(monkeypatch):
    created = []

    class FakeAdmin:
        def __init__(self, **options):
            pass

        async def start(self):
            pass

        async def close(self):
            pass

        async def list_topics(self):
            return ["volunteers.updated"]

        async def create_topics(self, topics):
            created.extend(topics)

    async def led(*args, **kwargs):
        pass

    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", FakeAdmin)
    monkeypatch.setattr(kafka, "_wait_until_led", led)
    await kafka.ensure_topics(load_settings(), ["volunteers.updated", "volunteers.registered", "shifts.completed"])
    assert {t.name: t.topic_configs for t in created} == {
        "volunteers.registered": {"retention.ms": str(30 * 86_400_000)}, "shifts.completed": {}}


# --- appreciations.sent v2 --------------------------------------------------------

def test_appreciation_sent_v2_names_the_audience_not_the_address():
    v1, v2 = BY_TYPE["dankjewel.appreciation.sent.v1"], BY_TYPE["dankjewel.appreciation.sent.v2"]
    assert v1 in CATALOGUE and v2 in CATALOGUE and v1.topic == v2.topic == "appreciations.sent"
    schema = json.loads((SCHEMA_DIR / "dankjewel.appreciation.sent.v2.json").read_text())
    assert set(schema["required"]) == {"volunteer_id", "milestone", "notification", "audience"}
    assert "recipient" not in schema["properties"]
    # every audience the mail queue uses (tables.mails.audience) is a valid value
    for audience in ("volunteer", "coordinator", "lead"):
        AppreciationSentV2(volunteer_id="v1", milestone="m", notification="n", audience=audience)
