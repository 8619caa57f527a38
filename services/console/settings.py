"""The variables only the coordinator console reads. What every service reads is in
shared/settings.py."""

from pydantic import Field, SecretStr

from shared.settings import Settings


class ConsoleSettings(Settings):
    # No default: checked at the console's start-up (services/console/service.py).
    console_session_secret: SecretStr | None = Field(default=None, description="Signs console sign-in cookies")
    console_session_hours: int = Field(default=12, ge=1, le=24 * 30)
