"""Rendering a queued mail into an email message: Jinja2 templates (HTML and plain
text, nl and en), headers checked for CR/LF, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import formataddr
from functools import lru_cache
from urllib.parse import quote
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from icalendar import Calendar, Event
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.appreciation.domain import SHIFT_REMINDER, card_todo_id, in_language
from services.appreciation.settings import AppreciationSettings
from shared.settings import SHIPPED_SECRETS, SettingsError, require_secret

TEMPLATES = Path(__file__).parent / "templates"
VOLUNTEER_NOTIFICATIONS = {"first-shift-thanks", "milestone-card", "service-anniversary", "lunch-invitation",
                           "opportunity-suggestion", SHIFT_REMINDER}


class HeaderInjection(ValueError):
    """A header value carried CR or LF; the mail is refused rather than sent."""


def header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection("header value contains CR or LF")
    return value


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new header class with type() for every header set or
    parsed (~20 µs each, dozens per mail); the class only depends on the header name, so
    keep it. Same classes, same parsing and folding, hence the same bytes."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def map_to_type(self, name: str, cls: type) -> None:
        super().map_to_type(name, cls)
        self._classes.pop(name.lower(), None)


class UrlListHeader(UnstructuredHeader):
    """List-Unsubscribe holds `<URL>` (RFC 2369). The default folding turns a URL longer
    than a line into RFC 2047 encoded words, which mail clients do not decode there, so
    the one-click link would not work; it stays on one line (RFC 5322 allows 998)."""

    def fold(self, *, policy) -> str:  # noqa: ANN001
        return f"{self.name}: {self}{policy.linesep}"


def mail_headers(registry: HeaderRegistry) -> HeaderRegistry:
    registry.map_to_type("list-unsubscribe", UrlListHeader)
    return registry


# email.policy.default in every respect but the header class cache and List-Unsubscribe.
POLICY = policy.default.clone(header_factory=mail_headers(_HeaderClasses()))


@lru_cache(maxsize=None)
def _locale(language: str) -> Locale:
    return Locale.parse(language)  # parsed once per language rather than per date


def _longdate(value: date | str, language: str) -> str:
    return format_date(date.fromisoformat(value) if isinstance(value, str) else value, format="long",
                       locale=_locale(language))


@lru_cache(maxsize=None)
def _environments(directory: Path) -> tuple[Environment, Environment]:
    """(text, html) environments, built on first use and kept: the environment holds the
    compiled templates, so a new one per mail would compile them again."""
    def environment(autoescape: bool) -> Environment:
        environment = Environment(loader=FileSystemLoader(directory), autoescape=autoescape,
                                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        environment.filters["longdate"] = _longdate
        return environment
    # HTML is autoescaped; the plain-text part is not HTML, so nothing to escape there.
    return environment(autoescape=False), environment(autoescape=True)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(notification: str, language: str, values: dict) -> Rendered:
    name = f"{language}/{notification}.jinja"
    parts = {}
    text, html = _environments(TEMPLATES)
    for environment, blocks in ((text, ("subject", "text")), (html, ("html",))):
        template = environment.get_template(name)
        context = template.new_context(values | {"language": language})
        for block in blocks:
            parts[block] = "".join(template.blocks[block](context)).strip()
    html = (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8"></head>'
            f'<body style="font-family:Georgia,serif;font-size:16px;line-height:1.5;max-width:36em">'
            f'{parts["html"]}</body></html>')
    return Rendered(subject=" ".join(parts["subject"].split()), text=parts["text"] + "\n", html=html)


def message_id(volunteer_id: str, occasion: str, notification: str) -> str:
    """The same queued mail always gets the same Message-ID (derived from its ledger key)."""
    digest = hashlib.sha256(f"{volunteer_id}\x00{occasion}\x00{notification}".encode()).hexdigest()[:32]
    return f"<{digest}.{notification}@dankjewel>"


# Unsubscribe links carry the volunteer id encrypted and timestamped (Fernet:
# AES-CBC + HMAC-SHA256), so a link shows nothing about its owner and expires.
# UNSUBSCRIBE_SECRET makes new links; UNSUBSCRIBE_PREVIOUS_SECRETS still open old ones.
def check_unsubscribe_secrets(settings: AppreciationSettings) -> None:
    """Start-up check: a usable UNSUBSCRIBE_SECRET (SettingsError naming it otherwise)."""
    require_secret(settings, "unsubscribe_secret")
    for previous in _previous_secrets(settings):
        if previous in SHIPPED_SECRETS or len(previous) < 16:
            raise SettingsError("UNSUBSCRIBE_PREVIOUS_SECRETS holds a value published in the dankjewel "
                                "repository or shorter than 16 characters")


def _previous_secrets(settings: AppreciationSettings) -> list[str]:
    value = settings.unsubscribe_previous_secrets
    return [s.strip() for s in value.get_secret_value().split(",") if s.strip()] if value else []


@lru_cache(maxsize=8)
def _fernet_for(secrets: tuple[str, ...]) -> MultiFernet:
    def key(secret: str) -> bytes:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"dankjewel unsubscribe link").derive(secret.encode())
        return base64.urlsafe_b64encode(derived)

    return MultiFernet([Fernet(key(secret)) for secret in secrets])


def _fernet(settings: AppreciationSettings) -> MultiFernet:
    current = require_secret(settings, "unsubscribe_secret")
    return _fernet_for((current, *_previous_secrets(settings)))


def unsubscribe_token(settings: AppreciationSettings, volunteer_id: str) -> str:
    return _fernet(settings).encrypt(volunteer_id.encode()).decode().rstrip("=")


def _open_token(settings: AppreciationSettings, token: str) -> str | None:
    if len(token) > 1000:
        return None
    try:
        value = _fernet(settings).decrypt(token + "=" * (-len(token) % 4),
                                          ttl=settings.unsubscribe_link_days * 86400)
        return value.decode()
    except (InvalidToken, ValueError, UnicodeDecodeError):
        return None


def volunteer_of_token(settings: AppreciationSettings, token: str) -> str | None:
    """The volunteer a token was made for, or None when it is forged, damaged or expired
    (or is another link's token: ids hold no line break)."""
    value = _open_token(settings, token)
    return value if value is not None and "\n" not in value else None


def unsubscribe_url(settings: AppreciationSettings, volunteer_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe/{unsubscribe_token(settings, volunteer_id)}"


def shift_reminders_off_url(settings: AppreciationSettings, volunteer_id: str, unsubscribe: str | None = None) -> str:
    """"No more shift reminders": the unsubscribe link's token (`unsubscribe`, when
    made already), on a page of its own."""
    return f"{unsubscribe or unsubscribe_url(settings, volunteer_id)}/shift-reminders"


# "I cannot come" links: made and checked like unsubscribe links (encrypted, signed,
# expiring), holding the volunteer and the shift after a purpose line, so neither
# kind of link opens the other's page.
_DECLINE = "shifts.declined"


def decline_token(settings: AppreciationSettings, volunteer_id: str, shift_id: str) -> str:
    value = f"{_DECLINE}\n{volunteer_id}\n{shift_id}"
    return _fernet(settings).encrypt(value.encode()).decode().rstrip("=")


def shift_of_decline_token(settings: AppreciationSettings, token: str) -> tuple[str, str] | None:
    """(volunteer id, shift id) of an "I cannot come" link, or None when it is forged,
    damaged, expired or another link's token."""
    parts = (_open_token(settings, token) or "").split("\n")
    return (parts[1], parts[2]) if len(parts) == 3 and parts[0] == _DECLINE else None


def decline_url(settings: AppreciationSettings, volunteer_id: str, shift_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/shifts/decline/{decline_token(settings, volunteer_id, shift_id)}"


def ics_text(value: str) -> str:
    """A TEXT value as RFC 5545 (3.3.11) wants it: backslash, semicolon and comma
    escaped, line breaks as \\n, other control characters dropped."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = "".join(c for c in value if c == "\n" or (c >= " " and c != "\x7f"))
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def ics_fold(line: str) -> str:
    """A content line folded after 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > (74 if parts else 75):  # a continuation line's leading space counts
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _ics_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def shift_calendar(*, shift_id: str, started_at: datetime, ended_at: datetime, summary: str,
                   location: str | None, description: str | None, stamp: datetime) -> bytes:
    """The shift as an iCalendar object (METHOD:PUBLISH): its UID comes from the shift id,
    so a calendar updates the item rather than adding a second; times in UTC; CRLF."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//dankjewel//shift reminder//EN", "METHOD:PUBLISH",
             "BEGIN:VEVENT", f"UID:shift-{ics_text(shift_id)}@dankjewel", f"DTSTAMP:{_ics_utc(stamp)}",
             f"DTSTART:{_ics_utc(started_at)}", f"DTEND:{_ics_utc(ended_at)}", f"SUMMARY:{ics_text(summary)}"]
    if location:
        lines.append(f"LOCATION:{ics_text(location)}")
    if description:
        lines.append(f"DESCRIPTION:{ics_text(description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(ics_fold(line) + "\r\n" for line in lines).encode()


def shift_reminder_calendar(values: dict, now: datetime) -> bytes:
    """The calendar item of a shift reminder's template values."""
    summary = values.get("task") or {"nl": "Dienst", "en": "Shift"}.get(values.get("language"), "Shift")
    description = "\n\n".join(part for part in (values.get("contact"), values.get("bring")) if part) or None
    return shift_calendar(shift_id=values["shift_id"], started_at=datetime.fromisoformat(values["started_at"]),
                          ended_at=datetime.fromisoformat(values["ended_at"]), summary=summary,
                          location=values.get("place"), description=description, stamp=now)


def console_url(settings: AppreciationSettings, volunteer_id: str, context: dict) -> str:
    """Where a coordinator acts on this mail: the volunteer's page in the console, at
    the to-do when the mail is about one."""
    url = f"{settings.console_base_url.rstrip('/')}/volunteers/{quote(volunteer_id, safe='')}"
    todo = context.get("todo_id") or (card_todo_id(context["milestone"]) if context.get("milestone") else None)
    return f"{url}#todo-{quote(todo, safe='')}" if todo else url


def lunch_calendar(context: dict, volunteer_id: str, settings: AppreciationSettings) -> bytes | None:
    if not context.get("lunch_on"):
        return None
    hour, minute = map(int, context["lunch_time"].split(":"))
    start = datetime.combine(date.fromisoformat(context["lunch_on"]), time(hour, minute), tzinfo=settings.timezone)
    calendar = Calendar()
    calendar.add("prodid", "-//dankjewel//lunch invitation//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"lunch-{hashlib.sha256(volunteer_id.encode()).hexdigest()[:16]}-{context['milestone']}@dankjewel")
    event.add("summary", "Lunch")
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(hours=1, minutes=30))
    event.add("dtstamp", datetime.now(settings.timezone))
    if context.get("lunch_place"):
        event.add("location", context["lunch_place"])
    calendar.add_component(event)
    return calendar.to_ical()


@lru_cache(maxsize=8)
def _from_header(mail_from: str) -> BaseHeader:
    # Parsing an address header costs ~0.1 ms and From is the same for every mail. Header
    # objects are immutable, and a message takes one as it is (EmailPolicy.header_store_parse).
    return POLICY.header_factory("From", formataddr(("dankjewel", header_value(mail_from))))


def build_message(*, settings: AppreciationSettings, volunteer_id: str, occasion: str, notification: str, audience: str,
                  recipient: str, language: str, values: dict) -> EmailMessage:
    values = in_language(values, language)  # also for callers that did not ask domain.template_values
    rendered = render(notification, language, values)
    message = EmailMessage(policy=POLICY)
    message["From"] = _from_header(str(settings.mail_from))
    message["To"] = header_value(recipient)
    message["Subject"] = header_value(rendered.subject)
    message["Message-ID"] = message_id(volunteer_id, occasion, notification)
    message["X-Dankjewel-Notification"] = notification
    if audience == "volunteer":
        # A shift reminder's one-click unsubscribe turns off shift reminders only.
        # The links the caller made for the body, when it did (each is an encryption).
        url = header_value(values.get("reminders_off_url") if notification == SHIFT_REMINDER
                           else values.get("unsubscribe_url") or unsubscribe_url(settings, volunteer_id))
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if notification == "lunch-invitation":
        ics = lunch_calendar(values, volunteer_id, settings)
        if ics:
            message.add_attachment(ics, maintype="text", subtype="calendar", filename="lunch.ics")
    if notification == SHIFT_REMINDER:
        message.add_attachment(shift_reminder_calendar(values | {"language": language}, datetime.now(timezone.utc)),
                               maintype="text", subtype="calendar", filename="shift.ics",
                               params={"method": "PUBLISH"})
    message["Content-Language"] = language  # after the body: set_content() drops Content-* headers
    return message
