"""The variables only the check-in service reads. What every service reads is in
shared/settings.py."""

from pydantic import Field

from shared.settings import Settings


class CheckinsSettings(Settings):
    # Follow-up deadlines: the rules file's `followups:` section (services/checkins/rules.py);
    # set here, they override it. Unset: the file, else the defaults 7, 7, 14, 6, 60.
    intake_deadline_days: int | None = Field(default=None, ge=1)
    escalation_after_days: int | None = Field(default=None, ge=1,
                                              description="Escalate to the lead this long after the deadline")
    onboarding_deadline_days: int | None = Field(default=None, ge=1)
    periodic_checkin_months: int | None = Field(default=None, ge=1)
    quiet_after_days: int | None = Field(default=None, ge=1)
