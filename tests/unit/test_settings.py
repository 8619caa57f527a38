import pytest

from services.settings import load_settings
from shared.settings import DEFAULT_DATABASE_URL, SettingsError


def test_defaults_need_no_configuration(monkeypatch):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "ORG_TIMEZONE", "SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.kafka_bootstrap_servers == "127.0.0.1:9092"
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.timezone.key == "Europe/Amsterdam"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "KAFKA_BOOTSTRAP_SERVERS: Value error, expected host:port"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL: Value error, expected postgresql+asyncpg://"),
    ("ORG_TIMEZONE", "Europe/Atlantis", "ORG_TIMEZONE: Value error, unknown time zone 'Europe/Atlantis'"),
    ("SMTP_PORT", "seventy", "SMTP_PORT: Input should be a valid integer"),
    ("MAIL_FROM", "not-an-address", "MAIL_FROM: value is not a valid email address"),
    ("RULES_FILE", "/nonexistent/rules.yaml", "RULES_FILE: Value error, no such file"),
    ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM"),
])
def test_a_bad_setting_is_named(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert message in str(refused.value)


def test_libpq_style_url_gets_the_async_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/dankjewel")
    assert load_settings().database_url == "postgresql+asyncpg://u:p@db:5432/dankjewel"


def test_sasl_settings_reach_the_kafka_clients(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "org")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "secret")
    options = load_settings().kafka_client_options()
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512", "org", "secret")


async def test_smtp_starttls_and_login_settings_reach_the_client(monkeypatch):
    import aiosmtplib

    from services.appreciation.mailer import MailSender

    seen = {}

    class FakeSmtp:
        def __init__(self, **options):
            seen["options"] = options

        async def connect(self):
            seen["connected"] = True

        async def login(self, username, password):
            seen["login"] = (username, password)

    monkeypatch.setattr(aiosmtplib, "SMTP", FakeSmtp)
    settings = load_settings(smtp_host="mail.example.org", smtp_port=587, smtp_starttls=True,
                             smtp_username="dankjewel", smtp_password="s3cret")

    class Runtime:
        pass

    from shared.metrics import ServiceMetrics

    runtime = Runtime()
    runtime.settings, runtime.metrics = settings, ServiceMetrics("appreciation")
    await MailSender(runtime)._connect()
    assert seen["options"] == {"hostname": "mail.example.org", "port": 587, "timeout": 15,
                                     "start_tls": True, "use_tls": False}
    assert seen["login"] == ("dankjewel", "s3cret")


# Each service declares the variables only it reads; the whole configuration joins them.

def test_the_whole_configuration_includes_every_services_settings():
    from services.registry import all_services
    from services.settings import DankjewelSettings

    for definition in all_services().values():
        assert issubclass(DankjewelSettings, definition.settings), definition.name


@pytest.mark.parametrize(("service", "own", "not_shared"), [
    ("appreciation", "smtp_host", "smtp_host"),
    ("appreciation", "unsubscribe_secret", "mail_connections"),
    ("checkins", "intake_deadline_days", "quiet_after_days"),
    ("console", "console_session_secret", "console_session_hours"),
])
def test_a_services_own_variables_are_declared_by_it_not_in_shared(service, own, not_shared):
    from services.registry import all_services
    from shared.settings import Settings

    definition = all_services()[service]
    assert own in definition.settings.model_fields
    assert not_shared not in Settings.model_fields
    others = [d for d in all_services().values() if d.name != service]
    assert all(own not in d.settings.model_fields for d in others)


def test_a_service_refuses_settings_without_its_variables():
    from services.registry import all_services
    from shared.service import ServiceRuntime
    from shared.settings import Settings
    from shared.settings import load_settings as load_shared

    appreciation = all_services()["appreciation"]
    with pytest.raises(TypeError, match="reads AppreciationSettings; got Settings"):
        ServiceRuntime(appreciation, load_shared(Settings))
    assert ServiceRuntime(appreciation, load_settings()).settings.mail_connections == 4
    assert ServiceRuntime(all_services()["tasks"], load_shared(Settings)).name == "tasks"


def test_a_service_alone_reads_only_its_own_variables(monkeypatch):
    from services.console.settings import ConsoleSettings
    from shared.settings import load_settings as load_shared

    monkeypatch.setenv("SMTP_PORT", "seventy")  # not the console's: a console alone starts
    assert load_shared(ConsoleSettings).console_session_hours == 12
    with pytest.raises(SettingsError, match="SMTP_PORT"):
        load_settings()
