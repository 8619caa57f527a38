"""Value types for input from outside: event data read from Kafka and HTTP request bodies.

Each is a pydantic v2 `Annotated` type; a refused value gives a short message that
never contains the value itself (it may be personal data, and it ends up in
dead-letter reasons and logs).

* `SafeId`: an identifier (volunteer_id, shift_id, …): 1–200 characters, ASCII
  letters, digits and `. _ : @ + -`, starting with a letter or digit. Enough for
  uuids and prefixed ids ("henk-3f2a", "r-2291", "user@org"); nothing that needs
  escaping in a URL path, a log line, a mail header or a Kafka key.
* Text (`PersonName`, `ShortText`, `LongText`, or `clean_text(max_length)`), in order:
  1. zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF) are REMOVED:
     invisible, they mostly arrive by copy-paste, and a name with one would not
     match the same name without (this also drops the joiners some scripts and
     emoji sequences use, which changes only how the text is drawn);
  2. Unicode NFC normalisation, so equal-looking text is stored the same way
     (after step 1: a removed joiner may leave a letter and its accent side by side);
  3. leading and trailing whitespace is stripped (multi-line text: CRLF becomes LF);
  4. control characters (category Cc; multi-line text allows LF and TAB) and bidi
     controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) are REFUSED:
     they break mail headers and logs, or make text display as something else;
  5. empty text is refused, and so is text longer than `max_length` (counted after cleaning).
* `SaneDate`, `SaneDatetime` (with time zone): years 1900 to 2200, so date arithmetic
  downstream (due dates, anniversaries, hours) can neither overflow nor make sense of
  a typo such as year 9999.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, WithJsonSchema
from pydantic_core import PydanticCustomError

# --- identifiers --------------------------------------------------------------------------

ID_MAX_LENGTH = 200
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"  # as published in the JSON Schema
# The same, with the length: one match decides.
_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:@+-]{{0,{ID_MAX_LENGTH - 1}}}")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise PydanticCustomError(
            "safe_id", "must be 1 to {max} characters: ASCII letters, digits and . _ : @ + -, "
                       "starting with a letter or digit", {"max": ID_MAX_LENGTH})
    return value


SafeId = Annotated[str, AfterValidator(_check_id), WithJsonSchema(
    {"type": "string", "minLength": 1, "maxLength": ID_MAX_LENGTH, "pattern": ID_PATTERN})]

# --- text ---------------------------------------------------------------------------------

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_REMOVE_ZERO_WIDTH = dict.fromkeys(map(ord, ZERO_WIDTH))
# Category Cc is U+0000–U+001F and U+007F–U+009F; one search finds either kind.
_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")
_REFUSED_MULTILINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI_CONTROLS}]")  # LF and TAB allowed


def unsafe_characters(text: str, *, multiline: bool = False) -> str | None:
    """What kind of refused character `text` holds ("control characters", …), or None."""
    found = (_REFUSED_MULTILINE if multiline else _REFUSED).search(text)
    if found is None:
        return None
    return "bidirectional control characters" if found.group() in BIDI_CONTROLS else "control characters"


def _cleaner(max_length: int, multiline: bool):  # noqa: ANN202
    def clean(value: str) -> str:
        value = unicodedata.normalize("NFC", value.translate(_REMOVE_ZERO_WIDTH)).strip()
        if multiline:
            value = value.replace("\r\n", "\n")
        if (kind := unsafe_characters(value, multiline=multiline)) is not None:
            raise PydanticCustomError("unsafe_text", "must not contain {kind}", {"kind": kind})
        if not value:
            raise PydanticCustomError("empty_text", "must not be empty")
        if len(value) > max_length:
            raise PydanticCustomError("text_too_long", "must be at most {max} characters", {"max": max_length})
        return value
    return clean


def clean_text(max_length: int, *, multiline: bool = False) -> Any:
    """A text type cleaned and checked as the module docstring says; `multiline` allows LF and TAB."""
    return Annotated[str, AfterValidator(_cleaner(max_length, multiline)),
                     WithJsonSchema({"type": "string", "minLength": 1, "maxLength": max_length})]


PersonName = clean_text(200)
ShortText = clean_text(200)
LongText = clean_text(2000, multiline=True)

# --- dates --------------------------------------------------------------------------------

MIN_YEAR, MAX_YEAR = 1900, 2200


def _check_year(value: date) -> date:  # a datetime is a date too
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise PydanticCustomError("date_range", "must be between {min} and {max}", {"min": MIN_YEAR, "max": MAX_YEAR})
    return value


SaneDate = Annotated[date, AfterValidator(_check_year)]
SaneDatetime = Annotated[AwareDatetime, AfterValidator(_check_year)]

