"""The console's words, in Dutch and English. Templates use `t.<key>`; every key
exists in both languages (a unit test checks)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal

TEXTS: dict[str, dict[str, str]] = {
    "nl": {
        "other_language": "English",
        "hours": "%s uur",
        "recorded_not_celebrated": "vastgelegd, niet gevierd: te laat ontdekt",
        "checkin_intake": "kennismakingsgesprek", "checkin_onboarding": "inwerkgesprek", "checkin_periodic": "periodiek gesprek",
        "mail_first-shift-thanks": "bedankje na de eerste dienst", "mail_milestone-card": "mijlpaalkaart",
        "mail_service-anniversary": "jubileumkaart", "mail_lunch-invitation": "lunchuitnodiging",
        "mail_opportunity-suggestion": "voorstel voor een klus", "mail_coordinator-reminder": "herinnering aan de coördinator",
        "mail_coordinator-alert": "signaal aan de coördinator", "mail_coordinator-escalation": "escalatie naar de leiding",
        "mail_delivery-failed": "melding: mail niet bezorgd", "mail_todo-overdue": "melding aan de leiding: taak over tijd",
        "menu": "Menu",
        "today": "Vandaag",
        "search_by_name": "Zoek op naam",
        "search": "Zoeken",
        "name": "Naam",
        "admin": "beheerder",
        "everyone": "Iedereen",
        "show_everyone": "Iedereen tonen",
        "only_mine": "Alleen de mijne",
        "open_alerts": "Open signalen",
        "no_open_alerts": "Geen open signalen.",
        "show_all": "Alle %d tonen",
        "upcoming": "Mijlpalen in aantocht",
        "upcoming_explained": "Jubilea in de komende %d dagen, en aantallen diensten en uren die bijna bereikt zijn.",
        "no_upcoming": "Niets in de komende dagen.",
        "next_milestones": "Volgende mijlpalen",
        "no_next_milestones": "Geen mijlpaal aangekondigd.",
        "measure_shifts": "%s diensten", "measure_shifts_1": "%s dienst",
        "measure_hours": "%s uur", "measure_hours_1": "%s uur",
        "measure_years": "%s jaar vrijwilliger", "measure_years_1": "%s jaar vrijwilliger",
        "standing": "nu %(value)s van %(threshold)s",
        "will_send": "dankjewel stuurt:",
        "sends_nothing": "dankjewel stuurt hiervoor niets.",
        "planned_first-shift-thanks": "Bedankje na de eerste dienst", "planned_milestone-card": "Mijlpaalkaart",
        "planned_service-anniversary": "Jubileumkaart", "planned_lunch-invitation": "Lunchuitnodiging",
        "planned_coordinator-reminder": "Herinnering",
        "audience_volunteer": "aan de vrijwilliger", "audience_coordinator": "aan de coördinator",
        "audience_lead": "aan de leiding",
        "planned_on": "%(what)s %(whom)s op %(date)s",
        "planned_when_reached": "%(what)s %(whom)s zodra de mijlpaal bereikt is",
        "on_date": "op",
        "since": "Sinds",
        "days_ago": "%d dagen",
        "escalated": "geëscaleerd",
        "taken_by": "opgepakt door",
        "i_spoke_to": "Ik heb %s gesproken",
        "i_spoke_to_them": "Ik heb contact gehad",
        "the_volunteer": "de vrijwilliger",
        "i_take_this": "Ik pak dit op",
        "reason_intake-overdue": "Nog geen kennismakingsgesprek",
        "reason_onboarding-overdue": "Nog geen inwerkgesprek na de eerste dienst",
        "reason_periodic-overdue": "Periodiek gesprek te laat",
        "reason_quiet-volunteer": "Al lang niets van gehoord",
        "reason_missed-shifts": "Diensten gemist",
        "reason_delivery-failed": "Mail kon niet worden bezorgd",
        "reason_shift-declined": "Kan niet komen naar een dienst",
        "suggest_address": "Controleer het e-mailadres en pas het aan in de registratie.",
        "suggest_replacement": "Zoek iemand anders voor de dienst.",
        "suggest_intake": "Bel of mail voor een kennismakingsgesprek.",
        "suggest_onboarding": "Vraag hoe de eerste dienst ging.",
        "suggest_periodic": "Neem even contact op: hoe gaat het?",
        "found": "%d gevonden",
        "shifts_count": "%d diensten",
        "yours": "van jou",
        "language": "Taal",
        "coordinator": "Coördinator",
        "volunteering_since": "Vrijwilliger sinds",
        "last_shift": "laatste dienst",
        "appreciation_mail": "Bedankmails",
        "yes": "ja",
        "no": "nee",
        "stopped": "gestopt",
        "timeline": "Tijdlijn",
        "nothing_yet": "Nog niets.",
        "event_registered": "Aangemeld",
        "event_updated": "Gegevens gewijzigd",
        "event_shift-completed": "Dienst gedaan",
        "event_shift-missed": "Dienst gemist",
        "event_checkin": "Gesprek gehouden",
        "event_help-offered": "Hulp aangeboden",
        "event_alert": "Signaal",
        "event_milestone": "Mijlpaal",
        "event_mail-sent": "Mail verstuurd",
        "done_spoke": "Vastgelegd: het gesprek is gehouden. Het signaal sluit zodra de gesprekken-dienst het verwerkt heeft.",
        "done_taken": "Vastgelegd: jij pakt dit op.",
        "done_confirm-erase": "Typ het id van de vrijwilliger om te bevestigen.",
        "privacy": "Privacy",
        "erase": "Wissen",
        "export": "Exporteren",
        "export_everything": "Download als JSON alles wat dankjewel over deze vrijwilliger bewaart, in elke dienst (AVG art. 15 en 20).",
        "export_console_only": "Download als JSON wat de console over deze vrijwilliger bewaart (alleen de eigen tabellen van de console). Voor alles wat dankjewel bewaart: dankjewel export %s.",
        "erase_explained": "Wist alle persoonsgegevens van deze vrijwilliger in elke dienst. Dit kan niet ongedaan worden.",
        "erase_confirm": "Typ %s om te bevestigen",
        "console": "coördinatoren",
        "skip_to_content": "Naar de inhoud",
        "sign_in": "Inloggen",
        "sign_out": "Uitloggen",
        "email": "E-mailadres",
        "password": "Wachtwoord",
        "sign_in_failed": "E-mailadres of wachtwoord klopt niet.",
        "too_many_attempts": "Te veel pogingen. Probeer het over een kwartier opnieuw.",
        "session_expired": "Je sessie is verlopen; log opnieuw in.",
        "request_refused": "Niet uitgevoerd",
        "request_refused_text": "Dit formulier is verlopen of kwam niet van deze site. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
        "to_start": "Naar het begin",
        "todos": "To-do's",
        "no_todos": "Geen open to-do's.",
        "todo_write-card": "Schrijf %(name)s een persoonlijke kaart vóór %(date)s",
        "todo_other": "%(name)s: %(action)s vóór %(date)s",
        "lunch_on": "Lunch op %s",
        "overdue": "te laat",
        "snoozed_until": "uitgesteld tot %s",
        "todo_note": "Notitie (niet verplicht)",
        "todo_mark_done": "Gedaan",
        "todo_snooze": "Een week uitstellen",
        "todos_done": "Gedaan",
        "done_on_by": "gedaan op %s door %s",
        "done_todo-done": "Vastgelegd: de to-do is gedaan.",
        "done_todo-snoozed": "Vastgelegd: de to-do is een week uitgesteld.",
        "done_note-refused": "Niet opgeslagen: de notitie mag hoogstens 1000 tekens lang zijn en geen onzichtbare stuurtekens bevatten.",
        "event_todo-opened": "To-do geopend",
        "event_todo-done": "To-do gedaan",
    },
    "en": {
        "other_language": "Nederlands",
        "hours": "%s hours",
        "recorded_not_celebrated": "recorded, not celebrated: found too late",
        "checkin_intake": "intake conversation", "checkin_onboarding": "onboarding check-in", "checkin_periodic": "periodic check-in",
        "mail_first-shift-thanks": "thank-you after the first shift", "mail_milestone-card": "milestone card",
        "mail_service-anniversary": "anniversary card", "mail_lunch-invitation": "lunch invitation",
        "mail_opportunity-suggestion": "an opportunity suggested", "mail_coordinator-reminder": "reminder to the coordinator",
        "mail_coordinator-alert": "alert to the coordinator", "mail_coordinator-escalation": "escalation to the lead",
        "mail_delivery-failed": "notice: mail not delivered", "mail_todo-overdue": "notice to the lead: to-do overdue",
        "menu": "Menu",
        "today": "Today",
        "search_by_name": "Search by name",
        "search": "Search",
        "name": "Name",
        "admin": "administrator",
        "everyone": "Everyone",
        "show_everyone": "Show everyone",
        "only_mine": "Only mine",
        "open_alerts": "Open alerts",
        "no_open_alerts": "No open alerts.",
        "show_all": "Show all %d",
        "upcoming": "Milestones coming up",
        "upcoming_explained": "Anniversaries in the next %d days, and shift and hour counts nearly reached.",
        "no_upcoming": "Nothing in the coming days.",
        "next_milestones": "Next milestones",
        "no_next_milestones": "No milestone announced.",
        "measure_shifts": "%s shifts", "measure_shifts_1": "%s shift",
        "measure_hours": "%s hours", "measure_hours_1": "%s hour",
        "measure_years": "%s years of service", "measure_years_1": "%s year of service",
        "standing": "now %(value)s of %(threshold)s",
        "will_send": "dankjewel will send:",
        "sends_nothing": "dankjewel sends nothing for this.",
        "planned_first-shift-thanks": "Thank-you after the first shift", "planned_milestone-card": "Milestone card",
        "planned_service-anniversary": "Anniversary card", "planned_lunch-invitation": "Lunch invitation",
        "planned_coordinator-reminder": "Reminder",
        "audience_volunteer": "to the volunteer", "audience_coordinator": "to the coordinator",
        "audience_lead": "to the lead",
        "planned_on": "%(what)s %(whom)s on %(date)s",
        "planned_when_reached": "%(what)s %(whom)s once the milestone is reached",
        "on_date": "on",
        "since": "Since",
        "days_ago": "%d days",
        "escalated": "escalated",
        "taken_by": "taken on by",
        "i_spoke_to": "I spoke to %s",
        "i_spoke_to_them": "I was in touch",
        "the_volunteer": "the volunteer",
        "i_take_this": "I'll take this",
        "reason_intake-overdue": "No intake conversation yet",
        "reason_onboarding-overdue": "No onboarding check-in after the first shift",
        "reason_periodic-overdue": "Periodic check-in overdue",
        "reason_quiet-volunteer": "Not heard from in a long time",
        "reason_missed-shifts": "Missed shifts",
        "reason_delivery-failed": "A mail could not be delivered",
        "reason_shift-declined": "Cannot come to a shift",
        "suggest_address": "Check the email address and correct it in the registration.",
        "suggest_replacement": "Find someone else for the shift.",
        "suggest_intake": "Call or write to arrange an intake conversation.",
        "suggest_onboarding": "Ask how the first shift went.",
        "suggest_periodic": "Get in touch: how are things?",
        "found": "%d found",
        "shifts_count": "%d shifts",
        "yours": "yours",
        "language": "Language",
        "coordinator": "Coordinator",
        "volunteering_since": "Volunteering since",
        "last_shift": "last shift",
        "appreciation_mail": "Appreciation mail",
        "yes": "yes",
        "no": "no",
        "stopped": "stopped",
        "timeline": "Timeline",
        "nothing_yet": "Nothing yet.",
        "event_registered": "Registered",
        "event_updated": "Details changed",
        "event_shift-completed": "Shift done",
        "event_shift-missed": "Shift missed",
        "event_checkin": "Check-in held",
        "event_help-offered": "Offered help",
        "event_alert": "Alert",
        "event_milestone": "Milestone",
        "event_mail-sent": "Mail sent",
        "done_spoke": "Recorded: the conversation was held. The alert closes once the check-ins service has taken it in.",
        "done_taken": "Recorded: you are taking this on.",
        "done_confirm-erase": "Type the volunteer's id to confirm.",
        "privacy": "Privacy",
        "erase": "Erase",
        "export": "Export",
        "export_everything": "Download, as JSON, everything dankjewel holds about this volunteer, in every service (GDPR art. 15 and 20).",
        "export_console_only": "Download, as JSON, what the console holds about this volunteer (the console's own tables only). For everything dankjewel holds: dankjewel export %s.",
        "erase_explained": "Erases this volunteer's personal data in every service. This cannot be undone.",
        "erase_confirm": "Type %s to confirm",
        "console": "coordinators",
        "skip_to_content": "Skip to content",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "email": "Email address",
        "password": "Password",
        "sign_in_failed": "The email address or password is not right.",
        "too_many_attempts": "Too many attempts. Please try again in a quarter of an hour.",
        "session_expired": "Your session has expired; please sign in again.",
        "request_refused": "Not done",
        "request_refused_text": "This form has expired or did not come from this site. Go back, reload the page and try again.",
        "to_start": "Back to the start",
        "todos": "To-dos",
        "no_todos": "No open to-dos.",
        "todo_write-card": "Write %(name)s a personal card before %(date)s",
        "todo_other": "%(name)s: %(action)s before %(date)s",
        "lunch_on": "Lunch on %s",
        "overdue": "overdue",
        "snoozed_until": "snoozed until %s",
        "todo_note": "Note (optional)",
        "todo_mark_done": "Done",
        "todo_snooze": "Snooze a week",
        "todos_done": "Done",
        "done_on_by": "done on %s by %s",
        "done_todo-done": "Recorded: the to-do is done.",
        "done_todo-snoozed": "Recorded: the to-do is snoozed for a week.",
        "done_note-refused": "Not saved: the note may be at most 1000 characters and hold no invisible control characters.",
        "event_todo-opened": "To-do opened",
        "event_todo-done": "To-do done",
    },
}


# British English: day before month, as the Dutch write it ("4 December 2026", not "December 4, 2026").
DATE_LOCALES = {"nl": "nl", "en": "en_GB"}


@lru_cache(maxsize=4096)
def long_date(day: date, language: str) -> str:
    """A date as people write it: "4 december 2026", "4 December 2026". Kept: a page
    shows the same few dates many times, and babel takes ~50 µs for each."""
    return format_date(day, format="long", locale=_locale(DATE_LOCALES.get(language, "nl")))


@lru_cache(maxsize=None)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def number(value: float, language: str) -> str:
    """A count as the reader writes it: "47,5" and "1.000" in Dutch, "47.5" and "1,000" in English."""
    return format_decimal(value, format="#,##0.#", locale=_locale(DATE_LOCALES.get(language, "nl")))


def milestone_words(measure: str, threshold: int, milestone: str, language: str) -> str:
    """A milestone in words: "50 diensten", "5 jaar vrijwilliger", "100 hours"; the
    milestone's name when the measure has no words."""
    words = TEXTS.get(language, TEXTS["nl"])
    template = words.get(f"measure_{measure}_1" if threshold == 1 else f"measure_{measure}")
    return template % number(threshold, language) if template else milestone


def standing(value: float, threshold: int, language: str) -> str:
    """Where the volunteer stands: "nu 48 van 50", "now 48 of 50"."""
    words = TEXTS.get(language, TEXTS["nl"])
    return words["standing"] % {"value": number(value, language), "threshold": number(threshold, language)}


def planned_mail(notification: str, audience: str, on: date | None, language: str) -> str:
    """What dankjewel will send, to whom and when: "Jubileumkaart aan de vrijwilliger op
    4 december 2026", "Milestone card to the volunteer once the milestone is reached".
    A notification without words yet is named as it is."""
    words = TEXTS.get(language, TEXTS["nl"])
    values = {"what": words.get(f"planned_{notification}", notification),
              "whom": words.get(f"audience_{audience}", audience)}
    if on is None:
        return words["planned_when_reached"] % values
    return words["planned_on"] % (values | {"date": long_date(on, language)})


def todo_sentence(action: str, name: str, due_on: date, language: str) -> str:
    """What a to-do asks, in the reader's language: "Schrijf Henk een persoonlijke kaart vóór 4 december 2026"."""
    words = TEXTS.get(language, TEXTS["nl"])
    template = words.get(f"todo_{action}", words["todo_other"])
    return template % {"name": name, "action": action, "date": long_date(due_on, language)}


class Words:
    """`t.key` in a template: the word in the reader's language."""

    def __init__(self, language: str) -> None:
        self._texts = TEXTS.get(language, TEXTS["nl"])

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def __getitem__(self, key: str) -> str:
        return self._texts[key]

    def __getattr__(self, key: str) -> str:
        try:
            return self._texts[key]
        except KeyError:
            raise AttributeError(key) from None
