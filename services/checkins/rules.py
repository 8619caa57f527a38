"""Check-ins' part of the rules file: the `followups:` section (deadlines of the
follow-up clocks and of the escalation). Read here, by check-ins itself, from the
same file as appreciation's milestones and alerts (RULES_FILE, else the shipped
`services/appreciation/rules.yaml`); only this section is validated here, so check-ins
imports nothing of appreciation.

Which value counts, per deadline: the environment variable when it is set
(INTAKE_DEADLINE_DAYS, ONBOARDING_DEADLINE_DAYS, PERIODIC_CHECKIN_MONTHS,
QUIET_AFTER_DAYS, ESCALATION_AFTER_DAYS), else the rules file, else the default."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.checkins import domain
from services.checkins.settings import CheckinsSettings
from shared.settings import SettingsError
from shared.yamlfile import child, read_yaml, validated

# The shipped rules file (a path, not an import: the file is shared configuration).
DEFAULT_RULES_FILE = Path(__file__).parent.parent / "appreciation" / "rules.yaml"

# Rules-file key -> the environment variable that overrides it.
OVERRIDES = {
    "intake_deadline_days": "intake_deadline_days",
    "onboarding_deadline_days": "onboarding_deadline_days",
    "periodic_months": "periodic_checkin_months",
    "quiet_after_days": "quiet_after_days",
    "escalation_after_days": "escalation_after_days",
}


class FollowUpsError(SettingsError):
    """The followups section cannot be used; the message names the file and line."""


class FollowUps(BaseModel):
    """The `followups:` section; every key optional (defaults as below)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    intake_deadline_days: int = Field(default=7, ge=1, le=3650)
    onboarding_deadline_days: int = Field(default=14, ge=1, le=3650)
    periodic_months: int = Field(default=6, ge=1, le=120)
    quiet_after_days: int = Field(default=60, ge=1, le=3650)
    escalation_after_days: int = Field(default=7, ge=1, le=3650)

    def with_overrides(self, settings: CheckinsSettings) -> "FollowUps":
        """The environment variables that are set win over the file."""
        changes = {key: getattr(settings, variable) for key, variable in OVERRIDES.items()
                   if getattr(settings, variable, None) is not None}
        return self.model_copy(update=changes)

    def rules(self) -> domain.Rules:
        return domain.Rules(intake=timedelta(days=self.intake_deadline_days),
                            onboarding=timedelta(days=self.onboarding_deadline_days),
                            periodic_months=self.periodic_months, quiet=timedelta(days=self.quiet_after_days),
                            escalation_after=timedelta(days=self.escalation_after_days))


def load_followups(path: Path | None = None) -> FollowUps:
    """The `followups:` section of a rules file (the defaults when it has none);
    FollowUpsError names the file and the line of the first problem."""
    path = path or DEFAULT_RULES_FILE
    root, data = read_yaml(path, FollowUpsError)
    section = child(root, "followups")
    if section is None:
        return FollowUps()
    data = data["followups"]
    if not isinstance(data, dict):
        raise FollowUpsError(f"{path} line {section.start_mark.line + 1}: followups: expected a mapping of "
                             f"{', '.join(OVERRIDES)}")
    return validated(FollowUps, data, path, section, FollowUpsError, prefix=("followups",))


@lru_cache(maxsize=4)
def _followups_at(path: Path | None) -> FollowUps:
    return load_followups(path)


def followups_for(settings: CheckinsSettings) -> FollowUps:
    """The deadlines in force: environment variables, else RULES_FILE, else defaults."""
    return _followups_at(settings.rules_file).with_overrides(settings)


def rules_for(settings: CheckinsSettings) -> domain.Rules:
    return followups_for(settings).rules()


def check_config(settings: CheckinsSettings) -> None:
    """Refuse to start on an invalid followups section (naming the line)."""
    followups_for(settings)
