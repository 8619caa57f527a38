"""CSV rows → CloudEvents: one row per case, without servers."""

import json
from zoneinfo import ZoneInfo

import pytest

from services.importer import ImportFileError, read_rows

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
VOLUNTEERS = "volunteer_id,name,email,language,registered_at,service_started_on,appreciation_mail_consent\n"
SHIFTS = "shift_id,volunteer_id,started_at,ended_at,task\n"


def rows(kind: str, text: str) -> list:
    return list(read_rows(kind, text, AMSTERDAM))


@pytest.mark.parametrize(("line", "problem"), [
    ("henk,Henk de Vries,henk@example.org,nl,2021-12-04,2021-12-04,ja", None),
    ("samira,Samira,samira@example.org,en,2026-11-01T09:00:00+01:00,,", None),
    ("gerard,Gerard,gerard-at-example.org,nl,2026-11-21,,", "email"),
    ("kees,Kees,kees@example.org,de,2026-11-21,,", "language"),
    ("anna,,anna@example.org,nl,2026-11-21,,", "name"),
    ("bea,Bea\u202egnp,bea@example.org,nl,2026-11-21,,", "name: must not contain bidirectional"),
    ("with space,Joe,joe@example.org,nl,2026-11-21,,", "volunteer_id"),
    ("old,Old,old@example.org,nl,9999-01-01,,", "registered_at"),
    ("x,X,x@example.org,nl,yesterday,,", "registered_at"),
])
def test_each_volunteer_row_is_an_event_or_a_reason_without_its_values(line, problem):
    [row] = rows("volunteers", VOLUNTEERS + line + "\n")
    assert row.line == 2
    if problem is None:
        assert row.problem is None
        event = json.loads(row.value)
        assert event["type"] == "dankjewel.volunteer.registered.v1" and event["source"] == "urn:dankjewel:import"
        assert row.key == event["data"]["volunteer_id"].encode()
    else:
        assert problem in row.problem, row.problem
        assert "example.org" not in row.problem and "Bea" not in row.problem


def test_a_date_alone_is_midnight_in_the_organisations_time_zone_and_consent_words_are_read():
    [row] = rows("volunteers", VOLUNTEERS + "henk,Henk,henk@example.org,nl,2021-12-04,,nee\n")
    data = json.loads(row.value)["data"]
    assert data["registered_at"] == "2021-12-04T00:00:00+01:00" and data["appreciation_mail_consent"] is False


@pytest.mark.parametrize(("line", "problem"), [
    ("r-1,henk,2026-11-27 09:00,2026-11-27 12:30,rijden", None),
    ("r-2,henk,2026-11-27T09:00:00+01:00,2026-11-27T12:30:00+01:00,", None),
    ("r-3,henk,2026-11-27 12:30,2026-11-27 09:00,", "ended_at is before started_at"),
    ("r-4,henk,2026-11-27 09:00,2027-11-27 09:00,", "at most 7 days"),
    ("r 5,henk,2026-11-27 09:00,2026-11-27 10:00,", "shift_id"),
])
def test_each_shift_row(line, problem):
    [row] = rows("shifts", SHIFTS + line + "\n")
    assert (row.problem is None) if problem is None else (problem in row.problem), row.problem


def test_the_same_row_twice_is_the_same_event_so_a_second_import_changes_nothing():
    text = SHIFTS + "r-1,henk,2026-11-27 09:00,2026-11-27 12:30,rijden\n"
    first, second = rows("shifts", text)[0], rows("shifts", text + "r-2,henk,2026-11-28 09:00,2026-11-28 10:00,\n")[0]
    assert json.loads(first.value)["id"] == json.loads(second.value)["id"]


def test_semicolons_a_byte_order_mark_and_extra_columns_are_fine():
    text = "volunteer_id;name;email;language;registered_at;notes\nhenk;Henk;henk@example.org;nl;2021-12-04;x\n"
    [row] = rows("volunteers", text)
    assert row.problem is None


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("volunteers", "volunteer_id,name\nhenk,Henk\n", "lacks email, language, registered_at"),
    ("shifts", "", "lacks shift_id"),
    ("people", VOLUNTEERS, "unknown kind"),
])
def test_a_file_that_cannot_be_imported_says_why(kind, text, message):
    with pytest.raises(ImportFileError, match=message):
        rows(kind, text)


def test_a_roster_that_says_no_to_shift_reminders_is_heard():
    [row] = rows("volunteers", "volunteer_id,name,email,language,registered_at,shift_reminder_consent\n"
                               "ans,Ans,ans@example.org,nl,2026-11-01,nee\n")
    data = json.loads(row.value)["data"]
    assert data["shift_reminder_consent"] is False and "appreciation_mail_consent" not in data
