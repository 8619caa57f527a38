"""`dankjewel import volunteers|shifts FILE.csv`: an organisation's spreadsheet or
roster export becomes events on Kafka, as its own system would publish them.

Each row is validated by the event contract and becomes one CloudEvent whose id is
derived from the row's content, so importing the same file twice changes nothing
(the services' inboxes see the same source and id). A bad row is reported with its
line number and the fields at fault (never their values) and skipped.

Columns (a header row names them; order is free, unknown columns are ignored):

volunteers  volunteer_id, name, email, language (nl/en), registered_at (date or
            RFC 3339 time); optional service_started_on, coordinator_email,
            appreciation_mail_consent (yes/no, true/false, 1/0)
shifts      shift_id, volunteer_id, started_at, ended_at (RFC 3339 with time zone,
            or "YYYY-MM-DD HH:MM" in ORG_TIMEZONE); optional task
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.contracts import SHIFT_COMPLETED, VOLUNTEER_REGISTERED, EventType
from shared.envelope import structured_record

SOURCE = "urn:dankjewel:import"
KINDS: dict[str, EventType] = {"volunteers": VOLUNTEER_REGISTERED, "shifts": SHIFT_COMPLETED}
REQUIRED = {"volunteers": ("volunteer_id", "name", "email", "language", "registered_at"),
            "shifts": ("shift_id", "volunteer_id", "started_at", "ended_at")}
OPTIONAL = {"volunteers": ("service_started_on", "coordinator_email", "appreciation_mail_consent"),
            "shifts": ("task",)}
YES, NO = {"yes", "ja", "true", "1", "y", "j"}, {"no", "nee", "false", "0", "n"}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not CSV, columns missing); says why."""


@dataclass(frozen=True)
class Row:
    line: int
    key: bytes | None = None  # the record key (volunteer id) when the row is good
    value: bytes | None = None
    headers: list | None = None
    problem: str | None = None  # why the row is skipped


def _moment(text: str, zone: ZoneInfo) -> str:
    """RFC 3339 as given, or a local "YYYY-MM-DD[ HH:MM]" in the organisation's zone."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text  # the contract refuses it and names the field
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.isoformat()


def _day_or_moment(text: str, zone: ZoneInfo) -> str:
    text = text.strip()
    try:
        return datetime.combine(date.fromisoformat(text), time(0), zone).isoformat()
    except ValueError:
        return _moment(text, zone)


def _flag(text: str) -> bool | str:
    folded = text.strip().casefold()
    return True if folded in YES else False if folded in NO else text


def _data(kind: str, row: dict[str, str], zone: ZoneInfo) -> dict:
    """The event's `data` from a row: the columns the contract knows, empty cells left out."""
    data = {name: row[name].strip() for name in REQUIRED[kind] + OPTIONAL[kind] if (row.get(name) or "").strip()}
    if kind == "volunteers":
        if "registered_at" in data:
            data["registered_at"] = _day_or_moment(data["registered_at"], zone)
        if "appreciation_mail_consent" in data:
            data["appreciation_mail_consent"] = _flag(data["appreciation_mail_consent"])
    else:
        for name in ("started_at", "ended_at"):
            if name in data:
                data[name] = _moment(data[name], zone)
    return data


def _problem(error: ValidationError) -> str:
    # Field names and messages only: the values may be names and addresses.
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
                     for e in error.errors(include_input=False, include_url=False)[:5])


def read_rows(kind: str, text: str, zone: ZoneInfo) -> Iterator[Row]:
    """Every data row of a CSV text as a record ready to publish, or a problem."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    event_type = KINDS[kind]
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    columns = {(name or "").strip() for name in reader.fieldnames or []}
    missing = [name for name in REQUIRED[kind] if name not in columns]
    if missing:
        raise ImportFileError(f"the header row lacks {', '.join(missing)} (needed for {kind})")
    for row in reader:
        line = reader.line_num
        row = {(name or "").strip(): value or "" for name, value in row.items() if isinstance(value, str)}
        data = _data(kind, row, zone)
        try:
            event_type.model.model_validate(data)
        except ValidationError as error:
            yield Row(line, problem=_problem(error))
            continue
        # The same row always gets the same id: a second import is a duplicate the inbox skips.
        digest = hashlib.sha256(f"{event_type.type}\x00{sorted(data.items())}".encode()).hexdigest()[:32]
        value, headers = structured_record(event_type.type, data, source=SOURCE, event_id=f"{kind}-{digest}",
                                           subject=data["volunteer_id"])
        yield Row(line, key=data["volunteer_id"].encode(), value=value, headers=headers)


@dataclass
class ImportResult:
    published: int = 0
    skipped: int = 0


async def publish_file(settings, kind: str, path: Path, *, on_row=None) -> ImportResult:  # noqa: ANN001
    """Publish every good row of `path` to the kind's topic (acks=all, idempotent
    producer); report each bad row through `on_row(row)`; return the counts."""
    from shared.kafka import create_producer, ensure_topics

    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheet exports often start with a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFileError(f"cannot read {path} as UTF-8 text ({type(error).__name__})") from None
    rows = read_rows(kind, text, settings.timezone)
    topic = KINDS[kind].topic
    await ensure_topics(settings, [topic])
    producer = create_producer(settings, client_id=f"{settings.kafka_group_prefix}-import")
    await producer.start()
    result = ImportResult()
    try:
        pending = []
        for row in rows:
            if row.problem is None:
                pending.append(await producer.send(topic, value=row.value, key=row.key, headers=row.headers))
                result.published += 1
            else:
                result.skipped += 1
            if on_row is not None:
                on_row(row)
            if len(pending) >= 5000:  # bounded memory; the producer batches meanwhile
                for delivery in pending:
                    await delivery
                pending.clear()
        for delivery in pending:
            await delivery
    finally:
        await producer.stop()
    return result
