"""The dead-letter tools' pure parts: reading the headers, filtering, choosing what to replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.dlq import DeadLetter, DlqError, parse_since, printable, read_dead_letter, replay_problem, selected, \
    summary, topics_of

UTC = timezone.utc
ORIGINAL_HEADERS = [("content-type", b"application/cloudevents+json"), ("traceparent", b"00-abc-def-01")]
DLQ_HEADERS = [("dlq-reason", b"invalid data for dankjewel.shift.completed.v1: ended_at: Field required"),
               ("dlq-service", b"appreciation"), ("dlq-time", b"2026-11-27T10:00:00+00:00"),
               ("dlq-original-topic", b"shifts.completed"), ("dlq-original-partition", b"2"),
               ("dlq-original-offset", b"345")]


def record(headers=ORIGINAL_HEADERS + DLQ_HEADERS, *, key=b"henk", value=b'{"name": "Henk"}', partition=1, offset=7,
           timestamp=1_700_000_000_000):
    return SimpleNamespace(topic="shifts.completed.dlq", partition=partition, offset=offset, key=key, value=value,
                           headers=headers, timestamp=timestamp)


def letter(**changes) -> DeadLetter:
    return replace(read_dead_letter(record()), **changes)


@pytest.mark.parametrize("given, expected", [
    ("shifts.completed", ("shifts.completed", "shifts.completed.dlq")),
    ("shifts.completed.dlq", ("shifts.completed", "shifts.completed.dlq")),
    (" volunteers.registered ", ("volunteers.registered", "volunteers.registered.dlq")),
])
def test_either_topic_name_names_both(given, expected):
    assert topics_of(given) == expected


@pytest.mark.parametrize("given", [".dlq", "", "shifts.completed.dlq.dlq"])
def test_topic_names_that_are_no_topic_are_refused(given):
    with pytest.raises(DlqError):
        topics_of(given)


@pytest.mark.parametrize("given, expected", [
    (None, None),
    ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
    ("2026-11-27T10:30", datetime(2026, 11, 27, 10, 30, tzinfo=UTC)),
    ("2026-11-27T10:30:00+01:00", datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
    ("2026-11-27T09:30:00Z", datetime(2026, 11, 27, 9, 30, tzinfo=UTC)),
])
def test_since_is_a_date_or_a_moment_in_utc_unless_zoned(given, expected):
    assert parse_since(given) == expected


@pytest.mark.parametrize("given", ["yesterday", "27-11-2026", "2026-13-01"])
def test_since_refuses_what_is_no_iso_8601(given):
    with pytest.raises(DlqError, match="not an ISO 8601"):
        parse_since(given)


def test_the_headers_become_fields_and_the_original_headers_stay_without_dlq_ones():
    dead = read_dead_letter(record())
    assert (dead.partition, dead.offset, dead.service, dead.original_topic, dead.original_partition,
            dead.original_offset) == (1, 7, "appreciation", "shifts.completed", 2, 345)
    assert dead.time == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert dead.reason.startswith("invalid data for dankjewel.shift.completed.v1")
    assert (dead.key, dead.value, dead.headers) == (b"henk", b'{"name": "Henk"}', tuple(ORIGINAL_HEADERS))


@pytest.mark.parametrize("headers, expected", [
    # no dlq-time: the record's own timestamp
    ([h for h in DLQ_HEADERS if h[0] != "dlq-time"],
     {"time": datetime.fromtimestamp(1_700_000_000, UTC)}),
    ([("dlq-time", b"last tuesday")], {"time": datetime.fromtimestamp(1_700_000_000, UTC), "service": "",
                                       "original_topic": "", "original_offset": None}),
    ([("dlq-time", b"2026-11-27T10:00:00")], {"time": datetime(2026, 11, 27, 10, tzinfo=UTC)}),
    ([("dlq-original-partition", b"two"), ("dlq-original-offset", b"")],
     {"original_partition": None, "original_offset": None}),
    (None, {"reason": "", "headers": ()}),
])
def test_missing_or_malformed_headers_are_tolerated(headers, expected):
    dead = read_dead_letter(record(headers))
    assert {name: getattr(dead, name) for name in expected} == expected


LISTED = read_dead_letter(record([("person", b"Henk de Vries")] + DLQ_HEADERS, key=b"henk-de-vries",
                                 value=b'{"email": "henk@example.org"}'))


@pytest.mark.parametrize("shown", ["1@7", "2026-11-27T10:00:00+00:00", "appreciation", "shifts.completed[2]@345",
                                   "ended_at: Field required"])
def test_a_listed_line_says_where_when_who_and_why(shown):
    assert shown in LISTED.line()


@pytest.mark.parametrize("hidden", ["henk", "Henk", "example.org", "email"])
def test_a_listed_line_never_shows_key_value_or_other_headers(hidden):
    assert hidden not in LISTED.line()
    assert hidden not in repr(LISTED)


@pytest.mark.parametrize("given, expected", [
    ("plain", "plain"),
    ("line\nbreak\x1b[31m", "line?break?[31m"),  # no terminal escapes from a stranger's type
    ("x" * 250, "x" * 199 + "…"),
])
def test_reasons_are_printed_on_one_line_cut_to_200(given, expected):
    assert printable(given) == expected


NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


@pytest.mark.parametrize("changes, filters, kept", [
    ({}, {}, True),
    ({}, {"service": "appreciation"}, True),
    ({}, {"service": "tasks"}, False),
    ({}, {"since": NOW}, True),
    ({}, {"since": NOW + timedelta(seconds=1)}, False),
    ({"time": None}, {"since": NOW}, False),
    ({"time": None}, {}, True),
    ({"service": ""}, {"service": "appreciation"}, False),
    ({}, {"since": NOW - timedelta(days=1), "service": "appreciation"}, True),
])
def test_filters(changes, filters, kept):
    assert selected(letter(**changes), **filters) is kept


def test_summary_counts_per_reason_most_frequent_first():
    assert summary(["b", "a", "b", "", "x" * 300]) == [("b", 2), ("(no reason)", 1), ("a", 1),
                                                          ("x" * 199 + "…", 1)]


@pytest.mark.parametrize("changes, problem", [
    ({}, None),
    ({"original_topic": ""}, "no dlq-original-topic header"),
    ({"original_topic": "checkins.completed"}, "dlq-original-topic is 'checkins.completed', not 'shifts.completed'"),
    ({"value": None}, "no value (a tombstone)"),
])
def test_what_is_replayed(changes, problem):
    assert replay_problem(letter(**changes), "shifts.completed", set()) == problem


@pytest.mark.parametrize("second, replayed", [
    ({"service": "tasks", "offset": 8}, False),  # the same record refused by another service: once
    ({"key": b"gerard"}, True),
    ({"value": b"{}"}, True),
    ({"headers": ()}, True),
    ({"headers": (("content-type", b"application/json"),)}, True),
])
def test_a_record_goes_back_once_per_run(second, replayed):
    seen: set[str] = set()
    assert replay_problem(letter(), "shifts.completed", seen) is None
    problem = replay_problem(letter(**second), "shifts.completed", seen)
    assert (problem is None) is replayed
    if not replayed:
        assert problem == "the same record was replayed already in this run"


@pytest.mark.parametrize("arguments, message", [
    (["dlq", "list", "shifts.completed", "--since", "yesterday"], "--since 'yesterday' is not an ISO 8601"),
    (["dlq", "replay", "shifts.completed", "--since", "1 week"], "--since '1 week' is not an ISO 8601"),
    (["dlq", "replay", "shifts.completed", "--service", "billing"], "unknown service 'billing'; choose from"),
])
def test_the_commands_refuse_bad_options_before_anything_else(arguments, message):
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_replay_help_says_it_is_safe_to_repeat():
    result = CliRunner().invoke(app, ["dlq", "replay", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "deduplicate by CloudEvent source + id" in result.output
