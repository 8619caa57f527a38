"""The console's rules, one row per case."""

from datetime import date

import pytest

from services.console import domain
from services.console.texts import todo_sentence


@pytest.mark.parametrize(("reason", "kind"), [
    ("intake-overdue", "intake"),
    ("onboarding-overdue", "onboarding"),
    ("periodic-overdue", "periodic"),
    ("quiet-volunteer", "periodic"),
    ("missed-shifts", "periodic"),
    ("something-new", "periodic"),
])
def test_a_conversation_about_an_alert_is_this_kind_of_check_in(reason, kind):
    assert domain.checkin_kind_for(reason) == kind


@pytest.mark.parametrize(("reason", "checkin", "closes"), [
    ("intake-overdue", "intake", True),
    ("intake-overdue", "onboarding", False),
    ("onboarding-overdue", "onboarding", True),
    ("periodic-overdue", "periodic", True),
    ("periodic-overdue", "intake", False),
    ("quiet-volunteer", "intake", True),
    ("missed-shifts", "periodic", True),
    ("shift-declined", "periodic", True),
    ("shift-declined", "intake", True),
])
def test_which_check_in_answers_which_alert(reason, checkin, closes):
    assert domain.closed_by_checkin(reason, checkin) is closes
    assert domain.closed_by_checkin(reason, domain.checkin_kind_for(reason))  # the console's own answer closes it


@pytest.mark.parametrize(("reason", "closes"), [
    ("quiet-volunteer", True), ("missed-shifts", True), ("intake-overdue", False), ("onboarding-overdue", False)])
def test_a_shift_answers_worries_about_activity_only(reason, closes):
    assert domain.closed_by_shift(reason) is closes


@pytest.mark.parametrize(("name", "key"), [("Zoë", "zoe"), ("GERARD", "gerard"), ("Şükrü Öztürk", "sukru ozturk"),
                                          ("Straße", "strasse")])
def test_names_are_found_without_case_or_accents(name, key):
    assert domain.search_key(name) == key


def test_every_word_of_the_console_exists_in_both_languages():
    from services.console.texts import TEXTS

    assert set(TEXTS["nl"]) == set(TEXTS["en"])
    assert all(value.strip() for words in TEXTS.values() for value in words.values())


DEC_4 = date(2026, 12, 4)


@pytest.mark.parametrize(("today", "snoozed_until", "done", "escalated", "overdue"), [
    (date(2026, 12, 3), None, False, False, False),  # before its date
    (DEC_4, None, False, False, False),  # the day itself still counts
    (date(2026, 12, 5), None, False, False, True),  # the day after: overdue
    (date(2027, 3, 1), None, False, False, True),  # long after
    (date(2026, 12, 5), None, True, False, False),  # done
    (date(2026, 12, 5), None, False, True, False),  # reported before: once only
    (date(2026, 12, 5), date(2026, 12, 10), False, False, False),  # snoozed past today
    (date(2026, 12, 10), date(2026, 12, 10), False, False, False),  # the snooze's last day
    (date(2026, 12, 11), date(2026, 12, 10), False, False, True),  # the snooze ended
    (date(2026, 12, 5), date(2026, 11, 30), False, False, True),  # snoozed before its date: no later deadline
])
def test_which_to_dos_are_overdue_on_a_date(today, snoozed_until, done, escalated, overdue):
    assert domain.todo_overdue(DEC_4, today, snoozed_until=snoozed_until, done=done, escalated=escalated) is overdue


@pytest.mark.parametrize(("language", "sentence"), [
    ("nl", "Schrijf Henk een persoonlijke kaart vóór 4 december 2026"),
    ("en", "Write Henk a personal card before 4 December 2026"),
    ("fr", "Schrijf Henk een persoonlijke kaart vóór 4 december 2026"),  # unknown language: Dutch
])
def test_the_card_to_do_in_the_coordinators_language(language, sentence):
    assert todo_sentence("write-card", "Henk", DEC_4, language) == sentence


def test_a_to_do_of_a_kind_without_words_yet_still_reads():
    assert todo_sentence("phone-call", "Henk", DEC_4, "en") == "Henk: phone-call before 4 December 2026"


@pytest.mark.parametrize(("reason", "changed", "closes"), [
    ("delivery-failed", {"email"}, True), ("delivery-failed", {"name"}, False), ("intake-overdue", {"email"}, False)])
def test_a_new_address_answers_a_failed_delivery(reason, changed, closes):
    assert domain.closed_by_update(reason, changed) is closes


@pytest.mark.parametrize(("reason", "key"), [
    ("intake-overdue", "suggest_intake"), ("onboarding-overdue", "suggest_onboarding"),
    ("quiet-volunteer", "suggest_periodic"), ("delivery-failed", "suggest_address"),
    ("shift-declined", "suggest_replacement")])
def test_what_the_console_suggests(reason, key):
    from services.console.texts import TEXTS

    assert domain.suggestion(reason) == key and key in TEXTS["nl"] and key in TEXTS["en"]


def test_a_snooze_lasts_a_week_from_today():
    assert domain.snoozed_until(DEC_4) == date(2026, 12, 11)


@pytest.mark.parametrize(("query", "fragment"), [
    ("Zoë", "zoe"), ("100%", "100"), ("a_b", "a b"), ("back\\slash", "backslash"), ("", "")])
def test_a_search_is_folded_like_a_name_without_like_wildcards(query, fragment):
    assert domain.search_fragment(query) == fragment


def test_today_shows_anniversaries_of_the_next_thirty_days_both_ends_included():
    assert domain.upcoming_window(DEC_4) == (DEC_4, date(2027, 1, 3))


def test_a_shifts_hours_have_two_decimals():
    from datetime import datetime, timezone

    start = datetime(2026, 12, 4, 9, tzinfo=timezone.utc)
    assert domain.shift_hours(start, start.replace(hour=12, minute=20)) == 3.33


def test_a_coordinator_is_named_in_events_by_an_opaque_stable_ref():
    ref = domain.account_ref("ria@example.org")
    assert ref == domain.account_ref("ria@example.org") != domain.account_ref("kees@example.org")
    assert ref.startswith("u-") and len(ref) == 18 and "ria" not in ref


def test_an_overdue_to_dos_event_id_follows_from_its_key():
    first = domain.overdue_event_id("henk", "card-1")
    assert first == domain.overdue_event_id("henk", "card-1")
    assert first not in {domain.overdue_event_id("henk", "card-2"), domain.overdue_event_id("wim", "card-1")}


def test_a_new_account_is_stored_under_its_lower_case_address():
    assert domain.new_account_address(" Carla@Example.ORG ", "admin", "en", "x" * 12) == "carla@example.org"


@pytest.mark.parametrize(("email", "role", "language", "password", "problem"), [
    ("not-an-address", "boss", "de", "short", "is not an email address"),  # the address is checked first
    ("dirk@example.org", "boss", "de", "short", "unknown role 'boss'"),
    ("dirk@example.org", "admin", "de", "short", "unknown language 'de'"),
    ("dirk@example.org", "admin", "nl", "x" * 11, "shorter than 12 characters"),
])
def test_a_new_account_is_refused_with_the_first_problem(email, role, language, password, problem):
    with pytest.raises(domain.AccountError, match=problem):
        domain.new_account_address(email, role, language, password)


def test_sign_in_failures_are_counted_per_account_and_per_client_address():
    assert domain.signin_keys(" Anna@Example.org ", "203.0.113.9") == (
        "anna@example.org", "account:anna@example.org", "address:203.0.113.9")
    email, account_key, address_key = domain.signin_keys("a" * 400, "b" * 500)
    assert len(email) == 320 and len(address_key) == 400


# -- the layers: dependencies only go down; the entrypoints hold no SQL ------------------------

ENTRYPOINT_NEVER = {"store", "tables", "handlers", "web", "sweep", "service"}
FORBIDDEN = {
    "domain": {"usecases", "store", "tables", "handlers", "web", "accounts", "sweep", "service"},
    "store": {"domain", "usecases", "handlers", "web", "accounts", "sweep", "service"},
    "usecases": {"handlers", "web", "accounts", "sweep", "service"},
    "handlers": ENTRYPOINT_NEVER,
    "sweep": ENTRYPOINT_NEVER,
    "web": ENTRYPOINT_NEVER,
    "accounts": ENTRYPOINT_NEVER,
}


def console_imports(module: str) -> set[str]:
    """The console modules `module` imports, and "sqlalchemy" when it imports that."""
    import re
    from pathlib import Path

    source = (Path(domain.__file__).parent / f"{module}.py").read_text()
    found = {"sqlalchemy"} if re.search(r"^\s*(from|import) sqlalchemy", source, re.M) else set()
    for submodule, names in re.findall(r"^\s*from services\.console(?:\.(\w+))? import ([\w, ]+)", source, re.M):
        found |= {submodule} if submodule else {name.strip() for name in names.split(",")}
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_each_console_layer_imports_only_downwards(module):
    forbidden = FORBIDDEN[module] | ({"sqlalchemy"} if module != "store" else set())  # SQL only in store.py
    assert console_imports(module) & forbidden == set()
