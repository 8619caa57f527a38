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
