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


# --- the faster paths hold to the slower ones they replace --------------------------------

import contextlib  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from hypothesis import given, settings, strategies as st  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from services.importer import _ISOFORMAT, HEADERS, _moment, _surely_valid_shift  # noqa: E402
from shared.contracts import ShiftCompleted  # noqa: E402
from shared.envelope import structured_record  # noqa: E402

MOMENT = datetime(2026, 12, 1, 8, 30, tzinfo=timezone.utc)


def test_records_are_as_before_same_ids_and_the_documents_structured_record_writes():
    """The ids the importer gave these rows before it was made faster: a file imported
    then and again now is still a duplicate the inboxes skip."""
    text = (SHIFTS + "r-1,henk,2026-11-27 09:00,2026-11-27 12:30,Koffie schenken\n"
            "r-2,henk,2026-11-27T09:00:00.250000+01:00,2026-11-27T12:30:00+01:00,\n"
            "r-3, anna ,2026-11-27T09:00Z,2026-11-27T09:00:00.000000+00:00,Brood \u00e9 \n")
    found = list(read_rows("shifts", text, AMSTERDAM, moment=MOMENT))
    assert [json.loads(row.value)["id"] for row in found] == [
        "shifts-0e2d9dfa916fb2c68b59a2563fd9df53", "shifts-95d7a8535ac5b0a77cf2a43042951eb2",
        "shifts-b16fed92044db9d41ae87e58c24e6404"]
    [volunteer] = read_rows("volunteers", "volunteer_id;name;email;language;registered_at;appreciation_mail_consent\n"
                                          "henk;Henk de Vries;henk@example.org;nl;2021-12-04;nee\n", AMSTERDAM,
                            moment=MOMENT)
    assert json.loads(volunteer.value)["id"] == "volunteers-8431ba7ce9222471f070ff49ab8d8c6d"
    for row in [*found, volunteer]:
        event = json.loads(row.value)
        value, headers = structured_record(event["type"], event["data"], source="urn:dankjewel:import",
                                           event_id=event["id"], time=MOMENT, subject=event["data"]["volunteer_id"])
        assert event == json.loads(value) and row.headers == headers == HEADERS
        assert row.key == event["data"]["volunteer_id"].encode()
    assert json.loads(found[2].value)["data"] == {
        "shift_id": "r-3", "volunteer_id": "anna", "started_at": "2026-11-27T09:00:00+00:00",
        "ended_at": "2026-11-27T09:00:00+00:00", "task": "Brood \u00e9"}


def _round_trip(text: str) -> str:
    """What `_moment` did before its shortcut, for every text."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return text.strip()
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=AMSTERDAM)).isoformat()


_NEAR_ISOFORMAT = (r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?(\.[0-9]{1,7})?"
                   r"([+-][0-9]{2}:[0-9]{2}(:[0-9]{2})?|Z)?\Z")


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.from_regex(_ISOFORMAT, fullmatch=True), st.from_regex(_NEAR_ISOFORMAT),
                 st.text(alphabet="0123456789-+:.TZ ", max_size=35)))
def test_a_time_as_isoformat_writes_it_is_taken_as_given_which_is_what_the_round_trip_gives(text):
    assert _moment(text, AMSTERDAM) == _round_trip(text)


def _contract_accepts(data: dict) -> bool:
    try:
        ShiftCompleted.model_validate(data)
    except ValidationError:
        return False
    return True


def _shift(**fields) -> dict:
    data = {"shift_id": "r-1", "volunteer_id": "henk", "started_at": "2026-11-27T09:00:00+01:00",
            "ended_at": "2026-11-27T12:30:00+01:00", "task": "Koffie schenken"}
    data.update(fields)
    return {name: value for name, value in data.items() if value is not None}


GOOD_SHIFTS = [
    _shift(), _shift(task=None), _shift(task="a" * 200), _shift(task="x"), _shift(task="a" * 150),
    _shift(shift_id="A" * 200, volunteer_id="user@org.example+1:x_y-z"),
    _shift(started_at="1900-01-01T00:00:00+00:00", ended_at="1900-01-01T00:00:00+00:00"),
    _shift(started_at="2200-12-31T20:00:00.000001-23:59", ended_at="2200-12-31T23:59:59.999999-23:59"),
    _shift(started_at="2026-11-27T09:00:00+14:00", ended_at="2026-11-27T09:00:00-12:00"),  # a day later
    _shift(started_at="2026-11-20T09:00:00+01:00", ended_at="2026-11-27T09:00:00+01:00"),  # 7 days exactly
    _shift(started_at="2024-02-29T09:00:00+01:00", ended_at="2024-02-29T10:00:00+01:00"),
    # Not the shortcut's: the contract decides.
    _shift(started_at="2026-11-27T09:00:00+00:00", ended_at="2026-11-27T10:00:00Z"), _shift(task="caf\u00e9"),
    _shift(volunteer_id="henk\n"), _shift(task="Koffie\u200b schenken"),
]
HOSTILE_SHIFTS = [
    _shift(task="a" * 201), _shift(task="tab\there"), _shift(task="del\x7f"),
    _shift(task="\u200b"), _shift(task="a\u202eb"), _shift(task=" "), _shift(task=""),
    _shift(shift_id="A" * 201), _shift(shift_id="-r"), _shift(shift_id="r 1"), _shift(shift_id="r/1"),
    _shift(volunteer_id="h\u00e9nk"), _shift(volunteer_id="\uff48enk"),
    _shift(shift_id=None), _shift(volunteer_id=None), _shift(started_at=None), _shift(ended_at=None),
    _shift(started_at="1899-12-31T23:59:59+00:00", ended_at="1900-01-01T00:00:00+00:00"),
    _shift(started_at="2200-12-31T23:00:00-01:00", ended_at="2201-01-01T00:30:00+00:00"),
    _shift(started_at="2026-11-20T09:00:00+01:00", ended_at="2026-11-27T09:00:00.000001+01:00"),  # 7 days and 1 µs
    _shift(started_at="2026-11-27T09:00:00.000001+01:00", ended_at="2026-11-27T09:00:00+01:00"),  # ends before
    _shift(started_at="2026-02-29T09:00:00+01:00", ended_at="2026-02-29T10:00:00+01:00"),  # no such day
    _shift(started_at="2026-13-01T09:00:00+01:00"), _shift(started_at="2026-11-31T09:00:00+01:00"),
    _shift(started_at="2026-11-27T24:00:00+01:00"), _shift(started_at="2026-11-27T09:60:00+01:00"),
    _shift(started_at="2026-11-27T09:00:60+01:00"), _shift(started_at="2026-11-27T09:00:00+24:00"),
    _shift(started_at="2026-11-27T09:00:00"), _shift(started_at="2026-11-27"), _shift(started_at="yesterday"),
    _shift(started_at="\u0662\u0660\u0662\u0666-11-27T09:00:00+01:00"),  # Arabic-Indic digits
    _shift(started_at="9999-11-27T09:00:00+01:00", ended_at="9999-11-27T10:00:00+01:00"),
    _shift(started_at="0000-11-27T09:00:00+01:00"),
]


@pytest.mark.parametrize("data", GOOD_SHIFTS + HOSTILE_SHIFTS)
def test_the_shortcut_accepts_only_what_the_contract_accepts_and_the_import_decides_as_the_contract(data):
    accepted = _contract_accepts(data)
    assert accepted == (data in GOOD_SHIFTS), "the table is wrong about the contract"
    assert not _surely_valid_shift(data) or accepted
    # Through the importer: the same decision, and a refusal in the contract's words.
    line = ",".join(data.get(name, "") for name in ("shift_id", "volunteer_id", "started_at", "ended_at", "task"))
    if "\n" not in line and "," not in line:
        [row] = rows("shifts", SHIFTS + line + "\n")
        assert (row.problem is None) == accepted, row.problem


def test_the_shortcut_takes_the_rows_of_a_roster_export():
    """Else the import is a third slower and no test says so."""
    assert _surely_valid_shift(_shift())
    assert _surely_valid_shift(_shift(task=None, started_at="2026-11-27T09:00:00.153593+00:00",
                                      ended_at="2026-11-27T12:00:00.153593+00:00"))


_IDS = st.one_of(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,201}", fullmatch=True),
                 st.text(st.sampled_from("aZ09._:@+- /\u00e9\n"), min_size=1, max_size=202))
_TASKS = st.one_of(st.none(), st.from_regex(r"[ -~]{1,202}", fullmatch=True), st.text(max_size=202),
                   st.text(st.characters(max_codepoint=127), max_size=202))
_MOMENTS = st.one_of(st.from_regex(_ISOFORMAT, fullmatch=True),
                     st.datetimes(min_value=datetime(1890, 1, 1), max_value=datetime(2210, 1, 1),
                                  timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-12)),
                                                             timezone(timedelta(hours=14)), AMSTERDAM]))
                     .map(lambda moment: moment.isoformat()))


@settings(max_examples=500, deadline=None)
@given(_IDS, _IDS, _MOMENTS, _MOMENTS, _TASKS, st.integers(min_value=-10, max_value=8 * 24 * 60))
def test_what_the_shortcut_accepts_the_contract_accepts(shift_id, volunteer_id, started_at, ended_at, task, minutes):
    if minutes >= 0 and _ISOFORMAT.fullmatch(started_at):  # mostly a shift of a sane length, as in a real roster
        with contextlib.suppress(ValueError, OverflowError):
            ended_at = (datetime.fromisoformat(started_at) + timedelta(minutes=minutes)).isoformat()
    data = {"shift_id": shift_id, "volunteer_id": volunteer_id, "started_at": started_at, "ended_at": ended_at,
            "task": task}
    data = {name: value.strip() for name, value in data.items() if value and value.strip()}  # as the importer has it
    assert not _surely_valid_shift(data) or _contract_accepts(data), data
