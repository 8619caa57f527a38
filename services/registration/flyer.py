"""The opportunity flyer: a readable HTML page, and whether a client asks for one."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.registration import domain

# autoescape=True for every template: titles, tasks and names come from organisations'
# input and must never become markup.
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

SCHEDULE_LABELS = {"one-off": "Eenmalig", "recurring": "Terugkerend", "on-call": "Op afroep",
                   "short-project": "Kort project"}


def render_flyer(opportunity: dict) -> str:
    """`opportunity`: a row of registration_opportunities as a mapping."""
    times = domain.opportunity_times(opportunity["schedule"], domain.slots_from_json(opportunity["when"]))
    return _templates.get_template("flyer.html").render(
        o=opportunity,
        schedule=SCHEDULE_LABELS[opportunity["schedule"]],
        when=[domain.describe_slot(slot, "nl") for slot in times],
        time_per_occurrence=domain.describe_duration(opportunity["minutes_per_occurrence"], "nl"),
        onboarding_time=domain.describe_duration(opportunity["onboarding_minutes"], "nl"),
    )


def _qualities(accept: str) -> dict[str, float]:
    """Media type → q of an Accept header ("text/html,*/*;q=0.8")."""
    qualities: dict[str, float] = {}
    for entry in accept.split(","):
        media, *params = [part.strip() for part in entry.split(";")]
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            qualities[media.lower()] = max(quality, qualities.get(media.lower(), 0.0))
    return qualities


def prefers_html(accept: str | None) -> bool:
    """True when the Accept header ranks text/html above JSON, as a browser does;
    `*/*`, a tie or no header at all get JSON."""
    qualities = _qualities(accept or "")
    return qualities.get("text/html", 0.0) > qualities.get("application/json", 0.0)
