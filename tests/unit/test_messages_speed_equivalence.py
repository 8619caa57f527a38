"""The caches in messages.py (header classes, From header, Jinja environments, serializer)
must not change a byte of the mail, nor what is refused."""

import random
import secrets
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from email import policy
from email.headerregistry import HeaderRegistry

import pytest
from aiosmtplib.email import flatten_message

from services.appreciation import messages
from services.appreciation.domain import TEMPLATE_KEYS
from services.settings import load_settings

SETTINGS = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
LUNCH = {"years": 5, "milestone": "years-5", "anniversary_on": "2026-12-04", "lunch_on": "2026-12-11",
         "lunch_time": "12:30", "lunch_place": "the canteen"}
CASES = [
    ("first-shift-thanks", "nl", "volunteer", {"task": "boodschappen <rijden> & zo"}),
    ("first-shift-thanks", "en", "volunteer", {}),
    ("lunch-invitation", "nl", "volunteer", LUNCH),
    ("lunch-invitation", "en", "volunteer", {**LUNCH, "lunch_on": None}),
    ("coordinator-alert", "nl", "coordinator", {"reason": "intake-overdue", "due_since": "2026-11-20T10:00:00+00:00"}),
    ("opportunity-suggestion", "en", "volunteer", {"title": "Tuin & <keuken>", "reasons": ["a", "b"]}),
]
NAMES = ["Henk", "Zoë <script>alert(1)</script> & \"Co\"", "Evil\r\nBcc: all@example.org", "Maximiliaan ğüş " * 8]


class _FixedNow(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: ANN001, ANN206
        return cls(2026, 11, 28, 12, 0, tzinfo=tz)


def _wire(notification, language, audience, context, name):
    values = {key: None for key in TEMPLATE_KEYS} | context | {
        "name": name, "unsubscribe_url": messages.unsubscribe_url(SETTINGS, "v-henk"),
        "console_url": messages.console_url(SETTINGS, "v-henk", context)}
    message = messages.build_message(settings=SETTINGS, volunteer_id="v-henk", occasion="x",
                                     notification=notification, audience=audience, recipient="henk@example.org",
                                     language=language, values=values)
    random.seed(7)  # MIME boundaries are random
    return message.as_bytes(), flatten_message(message)


@pytest.mark.parametrize(("notification", "language", "audience", "context"), CASES)
@pytest.mark.parametrize("name", NAMES)
def test_cached_policy_gives_the_bytes_of_the_default_policy(monkeypatch, notification, language, audience,
                                                             context, name):
    monkeypatch.setattr(messages, "datetime", _FixedNow)  # the .ics DTSTAMP
    # Unsubscribe tokens are encrypted with a random IV: the same one for both builds.
    monkeypatch.setattr(messages, "unsubscribe_token", lambda settings, volunteer_id: "fixed-token")
    fast = _wire(notification, language, audience, context, name)
    monkeypatch.setattr(messages, "POLICY", policy.default.clone(
        header_factory=messages.mail_headers(HeaderRegistry())))
    monkeypatch.setattr(messages, "_from_header", lambda mail_from: messages.formataddr(
        ("dankjewel", messages.header_value(mail_from))))
    assert _wire(notification, language, audience, context, name) == fast


def test_header_classes_are_reused_and_follow_map_to_type():
    registry = messages._HeaderClasses()
    assert registry["Subject"] is registry["subject"]
    assert issubclass(registry["To"], policy.default.header_factory["To"].__bases__[0])

    class Custom(policy.default.header_factory.default_class):
        pass

    registry.map_to_type("subject", Custom)
    assert issubclass(registry["Subject"], Custom)


def test_from_header_still_refuses_cr_lf():
    with pytest.raises(messages.HeaderInjection):
        messages._from_header("a@example.org\r\nBcc: all@example.org")


def test_token_keys_are_per_secret():
    other = load_settings(unsubscribe_secret=secrets.token_urlsafe(32))
    assert messages.unsubscribe_token(SETTINGS, "v1") != messages.unsubscribe_token(other, "v1")
    assert messages.volunteer_of_token(other, messages.unsubscribe_token(SETTINGS, "v1")) is None


def test_templates_are_not_loaded_at_import_and_html_stays_autoescaped():
    code = ("from services.appreciation import messages as m\n"
            "assert m._environments.cache_info().currsize == 0\n"
            "text, html = m._environments(m.TEMPLATES)\n"
            "assert html.autoescape is True and text.autoescape is False\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
