"""The variables only the appreciation service reads: its mail server, the mail
sender's pace, shift reminders and the links in its mails. What every service
reads is in shared/settings.py."""

from __future__ import annotations

from pydantic import EmailStr, Field, SecretStr, model_validator

from shared.settings import Settings


class AppreciationSettings(Settings):
    # Mail
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = Field(default=False, description="Implicit TLS from the first byte (usually port 465)")
    mail_from: EmailStr = "dankjewel@example.org"
    mail_batch_size: int = Field(default=50, ge=1, le=1000, description="Mails claimed together")
    # Each SMTP exchange waits ~20 ms on round trips on a busy machine, so more
    # connections send more per second (4: ~80 mails/s here, 8: 100/s without a
    # queue); each can hold two accepted mails not yet recorded, which a crash sends twice.
    mail_connections: int = Field(default=4, ge=1, le=8,
                                  description="SMTP connections a batch is sent over at the same time")
    mail_poll_seconds: float = Field(default=1.0, gt=0, le=60,
                                     description="How often the mail sender looks for due mail when nothing woke it")
    mail_retry_seconds: float = Field(default=30, gt=0, description="First wait after a 4xx or a connection failure")
    mail_retry_max_seconds: float = Field(default=900, gt=0)
    shift_reminder_hours: float = Field(default=48, gt=0, le=336,
                                        description="How long before a shift its volunteer is reminded of it")

    # Links in mail
    public_base_url: str = Field(default="http://127.0.0.1:8000/appreciation",
                                 description="Where the appreciation service's HTTP API is reachable (unsubscribe links)")
    console_base_url: str = Field(default="http://127.0.0.1:8000/console",
                                  description="Where the console is reachable (links in coordinator mail)")
    # No default: a secret anyone can read in the repository protects nothing.
    # Checked where it is used (appreciation's start-up), so commands that need no
    # secret run without one.
    unsubscribe_secret: SecretStr | None = Field(default=None, description="Signs unsubscribe links")
    unsubscribe_previous_secrets: SecretStr | None = Field(
        default=None, description="Comma-separated earlier UNSUBSCRIBE_SECRETs: links they signed keep working")
    unsubscribe_link_days: int = Field(default=730, ge=30, le=3650,
                                       description="How long an unsubscribe link works (people click year-old mail)")

    @model_validator(mode="after")
    def _one_smtp_tls_mode(self) -> AppreciationSettings:
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("SMTP_TLS and SMTP_STARTTLS are both true; choose one: SMTP_TLS for implicit "
                             "TLS (usually port 465), SMTP_STARTTLS to upgrade a plain connection (usually 587)")
        return self

    def cleartext_warnings(self) -> list[str]:
        warnings = super().cleartext_warnings()
        if self.smtp_username and not (self.smtp_tls or self.smtp_starttls):
            warnings.append("SMTP_USERNAME is set but neither SMTP_TLS nor SMTP_STARTTLS: "
                            "the SMTP login and every mail travel unencrypted")
        return warnings
