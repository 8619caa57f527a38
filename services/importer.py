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
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from shared.contracts import SHIFT_COMPLETED, VOLUNTEER_REGISTERED, EventType
from shared.envelope import structured_record

SOURCE = "urn:dankjewel:import"
KINDS: dict[str, EventType] = {"volunteers": VOLUNTEER_REGISTERED, "shifts": SHIFT_COMPLETED}
REQUIRED = {"volunteers": ("volunteer_id", "name", "email", "language", "registered_at"),
            "shifts": ("shift_id", "volunteer_id", "started_at", "ended_at")}
CONSENTS = ("appreciation_mail_consent", "shift_reminder_consent")
OPTIONAL = {"volunteers": ("service_started_on", "coordinator_email", *CONSENTS),
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
        for consent in CONSENTS:
            if consent in data:
                data[consent] = _flag(data[consent])
    else:
        for name in ("started_at", "ended_at"):
            if name in data:
                data[name] = _moment(data[name], zone)
    return data


def _problem(error: ValidationError) -> str:
    # Field names and messages only: the values may be names and addresses.
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}"
                     for e in error.errors(include_input=False, include_url=False)[:5])


def _dialect(sample: str):  # noqa: ANN202
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        return csv.excel


def read_rows(kind: str, source: str | TextIO, zone: ZoneInfo, *, moment: datetime | None = None) -> Iterator[Row]:
    """Every data row of a CSV text (or an open text file, read as it goes) as a
    record ready to publish, or a problem. `moment`: the events' `time` (default now)."""
    if kind not in KINDS:
        raise ImportFileError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    event_type = KINDS[kind]
    validate = event_type.model.model_validate
    if isinstance(source, str):
        source = io.StringIO(source)
    sample = source.read(4096)
    source.seek(0)
    reader = csv.reader(source, dialect=_dialect(sample))
    header = [name.strip() for name in next(reader, [])]
    missing = [name for name in REQUIRED[kind] if name not in header]
    if missing:
        raise ImportFileError(f"the header row lacks {', '.join(missing)} (needed for {kind})")
    # The columns the contract knows, by position (the first of a repeated name, as a dict of the row would
    # keep the last: a header naming a column twice is unusual enough to take either).
    wanted = [(name, header.index(name)) for name in REQUIRED[kind] + OPTIONAL[kind] if name in header]
    moment = moment or datetime.now(timezone.utc)
    for cells in reader:
        line = reader.line_num
        if not cells:
            continue  # a blank line, as csv.DictReader skips it
        row = {name: cells[index] for name, index in wanted if index < len(cells)}
        data = _data(kind, row, zone)
        try:
            validate(data)
        except ValidationError as error:
            yield Row(line, problem=_problem(error))
            continue
        # The same row always gets the same id: a second import is a duplicate the inbox skips.
        digest = hashlib.sha256(f"{event_type.type}\x00{sorted(data.items())}".encode()).hexdigest()[:32]
        value, headers = structured_record(event_type.type, data, source=SOURCE, event_id=f"{kind}-{digest}",
                                           subject=data["volunteer_id"], time=moment)
        yield Row(line, key=data["volunteer_id"].encode(), value=value, headers=headers)


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
    with file:
        _check_utf8(path)  # before anything is published: no half import of a file that turns out unreadable
        try:
            rows = read_rows(kind, file, settings.timezone)
            first = next(rows, None)  # reads the header: a file that cannot be imported fails before Kafka
        except UnicodeDecodeError:
            raise ImportFileError(f"cannot read {path} as UTF-8 text") from None
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
                for row in itertools.chain([first] if first else [], rows):
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
