"""The value types of shared/values.py: what they accept, how they clean it, and what
they refuse, with a message that names the problem but never repeats the input."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.values import (BIDI_CONTROLS, ZERO_WIDTH, LongText, PersonName, SafeId, SaneDate, SaneDatetime,
                           ShortText, clean_text)


class Form(BaseModel):
    """One field per type, so a refusal names the field like an event's would."""

    id: SafeId | None = None
    name: PersonName | None = None
    short: ShortText | None = None
    long: LongText | None = None
    on: SaneDate | None = None
    at: SaneDatetime | None = None


def refusal(field: str, value: object) -> str:
    """The one error message for `value` in `field` (as the DLQ reason would show it)."""
    with pytest.raises(ValidationError) as refused:
        Form(**{field: value})
    [problem] = refused.value.errors(include_input=False, include_url=False)
    assert problem["loc"] == (field,)
    return problem["msg"]


@pytest.mark.parametrize("value", [
    "henk", "v1", "r-2291", "3f2a6c1e-9b7d-4c1a-8e2f-0a1b2c3d4e5f", "test-3f2a6c1e", "sw-0000001",
    "henk-3f2a6c-rit-2", "shift:v1", "mail:17", "user@example.org", "kill-9-7-v12-s3", "a.b_c+d", "x" * 200,
])
def test_ids_in_use_are_accepted(value):
    assert Form(id=value).id == value


ID_RULE = "must be 1 to 200 characters: ASCII letters, digits and . _ : @ + -, starting with a letter or digit"


@pytest.mark.parametrize(("value", "message"), [
    ("", ID_RULE),
    ("x" * 201, ID_RULE),
    ("x" * 5000, ID_RULE),
    ("henk jansen", ID_RULE),
    ("shifts/1", ID_RULE),
    ("..%2Fadmin", ID_RULE),
    ("-leading-dash", ID_RULE),
    ("v1\x00", ID_RULE),
    ("v1\n", ID_RULE),
    ("v\u202e1", ID_RULE),
    ("zoë", ID_RULE),
    (12, "Input should be a valid string"),
])
def test_bad_ids_are_refused(value, message):
    assert refusal("id", value) == message


@pytest.mark.parametrize(("field", "value", "cleaned"), [
    ("name", "Henk", "Henk"),
    ("name", "  Henk de Vries \t", "Henk de Vries"),
    ("name", "Zoe\u0308", "Zoë"),                      # NFC: e + combining diaeresis becomes ë
    ("name", "He\u200bnk", "Henk"),                    # zero-width space removed
    ("name", "\ufeffHenk\u2060", "Henk"),              # byte order mark, word joiner removed
    ("short", "Koffie schenken — zaal 2 ☕", "Koffie schenken — zaal 2 ☕"),
    ("long", "Regel 1\nRegel 2\n\tingesprongen", "Regel 1\nRegel 2\n\tingesprongen"),
    ("long", "Regel 1\r\nRegel 2", "Regel 1\nRegel 2"),  # a form's CRLF
    ("short", "x" * 200, "x" * 200),
    ("long", "x" * 2000, "x" * 2000),
])
def test_text_is_cleaned(field, value, cleaned):
    assert getattr(Form(**{field: value}), field) == cleaned


@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "Henk\x00", "must not contain control characters"),
    ("name", "Henk\x07jansen", "must not contain control characters"),
    ("name", "Henk\x1b[31m", "must not contain control characters"),
    ("name", "Henk\x7f", "must not contain control characters"),
    ("name", "Henk\x85jansen", "must not contain control characters"),  # C1 next line
    ("name", "Evil\r\nBcc: all@example.org", "must not contain control characters"),
    ("short", "line\nbreak", "must not contain control characters"),     # single-line text
    ("short", "tab\tin", "must not contain control characters"),
    ("long", "Regel\x00", "must not contain control characters"),        # multi-line allows only LF and TAB
    ("long", "Regel\rterug", "must not contain control characters"),
    ("name", "Henk\u202eknah", "must not contain bidirectional control characters"),
    ("name", "\u2066Henk\u2069", "must not contain bidirectional control characters"),
    ("name", "Henk\u200f", "must not contain bidirectional control characters"),
    ("long", "tekst\u061c", "must not contain bidirectional control characters"),
    ("name", "", "must not be empty"),
    ("name", "   ", "must not be empty"),
    ("name", "\u200b\u200d", "must not be empty"),                       # only zero-width characters
    ("name", "x" * 201, "must be at most 200 characters"),
    ("short", "x" * 100_000, "must be at most 200 characters"),
    ("long", "x" * 2001, "must be at most 2000 characters"),
])
def test_bad_text_is_refused(field, value, message):
    assert refusal(field, value) == message


@pytest.mark.parametrize(("field", "value"), [
    ("on", "1900-01-01"), ("on", "2200-12-31"), ("on", date(2026, 11, 1)),
    ("at", "1900-01-01T00:00:00Z"), ("at", "2200-12-31T23:59:59.999999-12:00"),
    ("at", datetime(2026, 11, 1, 9, tzinfo=timezone.utc)),
])
def test_dates_in_range_are_accepted(field, value):
    assert Form(**{field: value}) is not None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("on", "9999-12-31", "must be between 1900 and 2200"),
    ("on", "1899-12-31", "must be between 1900 and 2200"),
    ("on", "1800-01-01", "must be between 1900 and 2200"),
    ("on", "2201-01-01", "must be between 1900 and 2200"),
    ("on", "0001-01-01", "must be between 1900 and 2200"),
    ("at", "9999-12-31T23:59:59Z", "must be between 1900 and 2200"),
    ("at", "9999-12-31T23:59:59-01:00", "must be between 1900 and 2200"),  # past datetime.max in UTC
    ("at", "1800-06-01T12:00:00+02:00", "must be between 1900 and 2200"),
    ("at", "0001-01-01T00:00:00+01:00", "must be between 1900 and 2200"),  # before datetime.min in UTC
    ("at", "2026-11-01T09:00:00", "Input should have timezone info"),
    ("at", datetime(2026, 11, 1, 9), "Input should have timezone info"),
])
def test_dates_out_of_range_or_without_zone_are_refused(field, value, message):
    assert refusal(field, value) == message


SECRET = "Henk-Secret-4711"


@pytest.mark.parametrize(("field", "value"), [
    ("id", f"{SECRET} with spaces"),
    ("name", f"{SECRET}\x00"),
    ("name", f"{SECRET}\u202e"),
    ("short", SECRET * 50),
    ("long", SECRET * 500),
])
def test_refusals_never_repeat_the_input(field, value):
    assert SECRET not in refusal(field, value)


def test_clean_text_takes_its_own_length():
    class Note(BaseModel):
        text: clean_text(5)

    assert Note(text=" abcde ").text == "abcde"
    with pytest.raises(ValidationError, match="must be at most 5 characters"):
        Note(text="abcdef")


def test_json_schema_states_the_limits():
    schema = Form.model_json_schema()["properties"]
    assert schema["id"]["anyOf"][0] == {"type": "string", "minLength": 1, "maxLength": 200,
                                        "pattern": "^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"}
    assert schema["long"]["anyOf"][0] == {"type": "string", "minLength": 1, "maxLength": 2000}


REFUSED = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"} | set(BIDI_CONTROLS)


@given(st.text(max_size=300))
def test_accepted_text_has_no_control_bidi_or_zero_width_characters(value):
    for field, allowed in (("name", set()), ("long", {"\n", "\t"})):
        try:
            cleaned = getattr(Form(**{field: value}), field)
        except ValidationError:
            continue
        assert cleaned and cleaned == cleaned.strip()
        assert not (set(cleaned) & (REFUSED - allowed)), repr(cleaned)
        assert not (set(cleaned) & set(ZERO_WIDTH)), repr(cleaned)
        assert unicodedata.is_normalized("NFC", cleaned)


@given(st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=250))
def test_accepted_ids_stay_within_the_safe_set(value):
    try:
        accepted = Form(id=value).id
    except ValidationError:
        return
    assert 1 <= len(accepted) <= 200
    assert accepted[0].isalnum() and all(c.isalnum() or c in "._:@+-" for c in accepted)
