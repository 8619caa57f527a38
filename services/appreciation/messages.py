"""Rendering a queued mail into an email message: Jinja2 templates (HTML and plain
text, nl and en), headers checked for CR/LF, one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path

from babel.dates import format_date
from icalendar import Calendar, Event
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
VOLUNTEER_NOTIFICATIONS = {"first-shift-thanks", "milestone-card", "service-anniversary", "lunch-invitation",
                           "opportunity-suggestion"}


class HeaderInjection(ValueError):
    """A header value carried CR or LF; the mail is refused rather than sent."""


def header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection("header value contains CR or LF")
    return value


def _environment(autoescape: bool) -> Environment:
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["longdate"] = lambda value, language: format_date(
        date.fromisoformat(value) if isinstance(value, str) else value, format="long", locale=language)
    return environment


# HTML is autoescaped; the plain-text part is not HTML, so nothing to escape there.
_HTML = _environment(autoescape=True)
_TEXT = _environment(autoescape=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(notification: str, language: str, values: dict) -> Rendered:
    name = f"{language}/{notification}.jinja"
    parts = {}
    for environment, blocks in ((_TEXT, ("subject", "text")), (_HTML, ("html",))):
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


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.unsubscribe_secret.get_secret_value(), salt="dankjewel-unsubscribe")


def unsubscribe_token(settings: Settings, volunteer_id: str) -> str:
    return _serializer(settings).dumps(volunteer_id)


def volunteer_of_token(settings: Settings, token: str) -> str | None:
    """The volunteer a token was signed for, or None when it is forged or damaged."""
    try:
        value = _serializer(settings).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def unsubscribe_url(settings: Settings, volunteer_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/unsubscribe/{unsubscribe_token(settings, volunteer_id)}"


def lunch_calendar(context: dict, volunteer_id: str, settings: Settings) -> bytes | None:
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


def build_message(*, settings: Settings, volunteer_id: str, occasion: str, notification: str, audience: str,
                  recipient: str, language: str, values: dict) -> EmailMessage:
    rendered = render(notification, language, values)
    message = EmailMessage()
    message["From"] = formataddr(("dankjewel", header_value(str(settings.mail_from))))
    message["To"] = header_value(recipient)
    message["Subject"] = header_value(rendered.subject)
    message["Message-ID"] = message_id(volunteer_id, occasion, notification)
    message["X-Dankjewel-Notification"] = notification
    if audience == "volunteer":
        url = header_value(unsubscribe_url(settings, volunteer_id))
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if notification == "lunch-invitation":
        ics = lunch_calendar(values, volunteer_id, settings)
        if ics:
            message.add_attachment(ics, maintype="text", subtype="calendar", filename="lunch.ics")
    message["Content-Language"] = language  # after the body: set_content() drops Content-* headers
    return message
