"""`dankjewel import volunteers|shifts FILE.csv`: an organisation's spreadsheet or
roster export becomes events on Kafka, as its own system would publish them.

Each row is validated by the event contract and becomes one CloudEvent whose id is
derived from the row's content, so importing the same file twice changes nothing
(the services' inboxes see the same source and id). A bad row is reported with its
line number and the fields at fault (never their values) and skipped.

Columns (a header row names them; order is free, unknown columns are ignored):

volunteers  volunteer_id, name, email, language (nl/en), registered_at (date or
            RFC 3339 time); optional service_started_on, coordinator_email,
            appreciation_mail_consent, shift_reminder_consent (yes/no, ja/nee,
            true/false, 1/0)
shifts      shift_id, volunteer_id, started_at, ended_at (RFC 3339 with time zone,
            or "YYYY-MM-DD HH:MM" in ORG_TIMEZONE); optional task
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import NamedTuple, TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from pydantic_core import to_json

from shared.contracts import MAX_SHIFT_LENGTH, SHIFT_COMPLETED, VOLUNTEER_REGISTERED, EventType
from shared.envelope import STRUCTURED_CONTENT_TYPE
from shared.heap import fewer_collections
from shared.values import ID_MAX_LENGTH, ID_PATTERN, MAX_YEAR, MIN_YEAR

SOURCE = "urn:dankjewel:import"
KINDS: dict[str, EventType] = {"volunteers": VOLUNTEER_REGISTERED, "shifts": SHIFT_COMPLETED}
REQUIRED = {"volunteers": ("volunteer_id", "name", "email", "language", "registered_at"),
            "shifts": ("shift_id", "volunteer_id", "started_at", "ended_at")}
CONSENTS = ("appreciation_mail_consent", "shift_reminder_consent")
OPTIONAL = {"volunteers": ("service_started_on", "coordinator_email", *CONSENTS),
            "shifts": ("task",)}
# The headers of every record (structured mode), one list shared by all rows.
HEADERS = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
YES, NO = {"yes", "ja", "true", "1", "y", "j"}, {"no", "nee", "false", "0", "n"}


class ImportFileError(Exception):
    """The file as a whole cannot be imported (not CSV, columns missing); says why."""


class Row(NamedTuple):
    """A row of the file: a record to publish, or why it is skipped. (A tuple: a frozen
    dataclass took a microsecond more per row to make.)"""

    line: int
    key: bytes | None = None  # the record key (volunteer id) when the row is good
    value: bytes | None = None
    headers: list | None = None
    problem: str | None = None  # why the row is skipped


# A time exactly as `datetime.isoformat` writes it (what most exports write): parsing and
# writing it again gives the same text, or it does not parse and is passed on as given;
# either way the text itself. The round trip cost a tenth of the import's time (profiled).
# Not ".000000" or "-00:00" (isoformat leaves the one out, writes the other "+00:00"), nor
# hour 24 (Python 3.14 reads it as the next day's 00). A test holds this to the round trip.
_ISOFORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                        r"(\.(?!000000)[0-9]{6})?(?!-00:00)[+-]([01][0-9]|2[0-3]):[0-5][0-9]")


def _moment(text: str, zone: ZoneInfo) -> str:
    """RFC 3339 as given, or a local "YYYY-MM-DD[ HH:MM]" in the organisation's zone."""
    text = text.strip()
    if _ISOFORMAT.fullmatch(text):
        return text
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


def _data(kind: str, cells: list[str], wanted: list[tuple[str, int]], zone: ZoneInfo) -> dict:
    """The event's `data` from a row's cells: the columns the contract knows, empty cells left out."""
    data = {}
    for name, index in wanted:
        if index < len(cells) and (text := cells[index].strip()):
            data[name] = text
    if kind == "volunteers":
        if "registered_at" in data:
            data["registered_at"] = _day_or_moment(data["registered_at"], zone)
        for consent in CONSENTS:
            if consent in data:
                data[consent] = _flag(data[consent])
    else:
        for name in ("started_at", "ended_at"):
            if name in data:
                data[name] = _moment(data[name], zone)
    return data


# A shift row the contract (ShiftCompleted) surely accepts, checked in a quarter of the
# time the contract takes (a third of the import's time, profiled): plain ids, times as
# `datetime.isoformat` writes them, a printable ASCII task. Any other row, and every
# refusal, is the contract's to decide and word. tests/unit/test_importer.py holds this
# to the contract on good and hostile rows: a stricter contract must be written here too.
_SAFE_ID = re.compile(ID_PATTERN)
# ShortText: 1 to 200 characters once stripped; printable ASCII needs no other cleaning.
_PLAIN_TASK = re.compile(r"[!-~]([ -~]{0,198}[!-~])?")


def _surely_valid_shift(data: dict) -> bool:
    shift_id, volunteer_id = data.get("shift_id", ""), data.get("volunteer_id", "")
    started_at, ended_at, task = data.get("started_at", ""), data.get("ended_at", ""), data.get("task")
    if not (len(shift_id) <= ID_MAX_LENGTH and len(volunteer_id) <= ID_MAX_LENGTH
            and _SAFE_ID.fullmatch(shift_id) and _SAFE_ID.fullmatch(volunteer_id)
            and _ISOFORMAT.fullmatch(started_at) and _ISOFORMAT.fullmatch(ended_at)
            and (task is None or _PLAIN_TASK.fullmatch(task))):
        return False
    try:
        started, ended = datetime.fromisoformat(started_at), datetime.fromisoformat(ended_at)
    except ValueError:  # no such day
        return False
    return (MIN_YEAR <= started.year <= MAX_YEAR and MIN_YEAR <= ended.year <= MAX_YEAR
            and started <= ended <= started + MAX_SHIFT_LENGTH)


def _problem(error: ValidationError) -> str:
    # Field names and messages only: the values may be names and addresses.
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
                     for e in error.errors(include_input=False, include_url=False)[:5])


def _dialect(sample: str):  # noqa: ANN202
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        return csv.excel


def _csv_lines(kind: str, source: TextIO) -> tuple[list[tuple[str, int]], Iterator[tuple[int, list[str]]]]:
    """The columns the contract knows, by position, and every non-blank line's number
    and cells; raises ImportFileError when the header row lacks a required column."""
    sample = source.read(4096)
    source.seek(0)
    reader = csv.reader(source, dialect=_dialect(sample))
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in REQUIRED[kind] if name not in header]
    if missing:
        raise ImportFileError(f"the header row lacks {', '.join(missing)} (needed for {kind})")
    # The first of a repeated name, as a dict of the row would keep the last: a header
    # naming a column twice is unusual enough to take either.
    wanted = [(name, header.index(name)) for name in REQUIRED[kind] + OPTIONAL[kind] if name in header]
    # A blank line is skipped, as csv.DictReader skips it.
    return wanted, ((reader.line_num, cells) for cells in reader if cells)


def _rows(kind: str, wanted: list[tuple[str, int]], zone: ZoneInfo, moment: str,
          lines: Iterator[tuple[int, list[str]]]) -> Iterator[Row]:
    """Lines (number, cells) as rows: each validated by the contract and written as a
    structured-mode CloudEvent (`moment`: its `time` attribute), or its problem."""
    event_type = KINDS[kind]
    validate = event_type.model.__pydantic_validator__.validate_python  # model_validate minus a Python call
    surely_valid = _surely_valid_shift if kind == "shifts" else lambda data: False
    for line, cells in lines:
        data = _data(kind, cells, wanted, zone)
        if not surely_valid(data):
            try:
                validate(data)
            except ValidationError as error:
                yield Row(line, problem=_problem(error))
                continue
        # The same row always gets the same id: a second import is a duplicate the inbox skips.
        digest = hashlib.sha256(f"{event_type.type}\x00{sorted(data.items())}".encode()).hexdigest()[:32]
        # shared.envelope.structured_record's document (a test holds them equal), written here
        # with `time` formatted once per import and by pydantic's JSON writer: json.dumps and
        # isoformat took a sixth of the import's time (profiled).
        value = to_json({"specversion": "1.0", "id": f"{kind}-{digest}", "source": SOURCE, "type": event_type.type,
                         "time": moment, "datacontenttype": "application/json", "subject": data["volunteer_id"],
                         "data": data})
        yield Row(line, key=data["volunteer_id"].encode(), value=value, headers=HEADERS)


def read_rows(kind: str, source: str | TextIO, zone: ZoneInfo, *, moment: datetime | None = None) -> Iterator[Row]:
    """Every data row of a CSV text (or an open text file, read as it goes) as a
    record ready to publish, or a problem. `moment`: the events' `time` (default now)."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    if isinstance(source, str):
        source = io.StringIO(source)
    wanted, lines = _csv_lines(kind, source)
    yield from _rows(kind, wanted, zone, (moment or datetime.now(timezone.utc)).isoformat(), lines)


@dataclass
class ImportResult:
    published: int = 0
    skipped: int = 0


# Records go to Kafka in batches of up to this many bytes per partition, built here
# (aiokafka's BatchBuilder) rather than one `send` per row: a `send` costs a future and
# a partitioner call per record, a third of the import's time at 1,000,000 rows (profiled).
# Below the broker's default message.max.bytes (1 MiB).
BATCH_BYTES = 512 * 1024
IN_FLIGHT_BATCHES = 64  # batches sent and not yet acknowledged before the import waits for them


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportFileError(f"cannot read {path} as UTF-8 text") from None


async def publish_file(settings, kind: str, path: Path, *, on_row=None) -> ImportResult:  # noqa: ANN001
    """Publish every good row of `path` to the kind's topic (acks=all, idempotent
    producer), each to the partition of its key as any Kafka client's default
    partitioner picks it; pass every row to `on_row(row)`; return the counts."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    from shared.kafka import ensure_topics

    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    try:
        # newline="": the csv module reads line ends inside quoted cells itself;
        # utf-8-sig: spreadsheet exports often start with a byte order mark.
        file = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ImportFileError(f"cannot read {path} ({type(error).__name__})") from None
    topic = KINDS[kind].topic
    result = ImportResult()
    # Millions of short-lived objects: collected in fewer rounds (benchmark, phase 9:
    # 29,600 rows/s became 51,000-58,600).
    with file, fewer_collections():
        _check_utf8(path)  # before anything is published: no half import of a file that turns out unreadable
        try:
            wanted, lines = _csv_lines(kind, file)  # a file that cannot be imported fails before Kafka
        except UnicodeDecodeError:
            raise ImportFileError(f"cannot read {path} as UTF-8 text") from None
        rows = _rows(kind, wanted, settings.timezone, datetime.now(timezone.utc).isoformat(), lines)
        await ensure_topics(settings, [topic])
        producer = AIOKafkaProducer(**settings.kafka_client_options(), client_id=f"{settings.kafka_group_prefix}-import",
                                    enable_idempotence=True, acks="all", linger_ms=20, max_batch_size=BATCH_BYTES,
                                    request_timeout_ms=30000)
        await producer.start()
        try:
            partitions = sorted(await producer.partitions_for(topic))
            choose = DefaultPartitioner()
            partition_of: dict[bytes, int] = {}  # murmur2 once per volunteer, not once per row
            batches: dict[int, object] = {}
            deliveries: list = []

            async def send(partition: int) -> None:
                deliveries.append(await producer.send_batch(batches.pop(partition), topic, partition=partition))
                if len(deliveries) >= IN_FLIGHT_BATCHES:  # bounded memory; order per partition holds
                    await asyncio.gather(*deliveries)
                    deliveries.clear()

            try:
                for row in rows:
                    if row.problem is None:
                        partition = partition_of.get(row.key)
                        if partition is None:
                            partition = partition_of[row.key] = choose(row.key, partitions, partitions)
                        batch = batches.get(partition)
                        if batch is None:
                            batch = batches[partition] = producer.create_batch()
                        if batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers) is None:
                            await send(partition)  # full: off it goes, and a new one takes the row
                            batch = batches[partition] = producer.create_batch()
                            batch.append(key=row.key, value=row.value, timestamp=None, headers=row.headers)
                        result.published += 1
                    else:
                        result.skipped += 1
                    if on_row is not None:
                        on_row(row)
            except UnicodeDecodeError:
                raise ImportFileError(f"cannot read {path} as UTF-8 text") from None
            for partition in list(batches):
                await send(partition)
            await asyncio.gather(*deliveries)
        finally:
            await producer.stop()
    return result
