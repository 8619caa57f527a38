"""The whole configuration: every service's settings in one class.

`dankjewel run all` runs every service in one process on one configuration, and the
CLI's other commands read it too; a service alone needs only its own class (its
ServiceDefinition names it). A test checks that this class includes every service's.
"""

from services.appreciation.settings import AppreciationSettings
from services.checkins.settings import CheckinsSettings
from services.console.settings import ConsoleSettings
from shared.settings import load_settings as load


class DankjewelSettings(AppreciationSettings, CheckinsSettings, ConsoleSettings):
    """Every variable any dankjewel service reads."""


def load_settings(**overrides) -> DankjewelSettings:
    """The whole configuration from the environment (and `overrides`); SettingsError
    names each bad variable."""
    return load(DankjewelSettings, **overrides)
