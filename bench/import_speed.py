"""Phase 9: `dankjewel import shifts FILE.csv` speed (issue 12: at least 20,000 rows/s
from a 1,000,000-row file).

A CSV of N shifts (default 1,000,000; quick 20,000) over N/50 volunteers (a roster
export: each volunteer appears on many rows) is written to a temporary file, then
`services.importer.publish_file` — what the command runs, minus the progress bar —
reads, validates and publishes it to the benchmark's broker (`shifts.completed`, 4
partitions after phase 8, acks=all, idempotent producer). Timed from the call to the
last acknowledgement; the process's CPU time over the same span is printed as a share
of one core. No service consumes the records here: the services drain an import at
their own pace (phase 2's figure).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

TARGET = 20_000  # rows/s
ROWS_PER_VOLUNTEER = 50


def write_roster(path: Path, rows: int, ended_before: datetime) -> None:
    """`rows` shifts of 3 h, each volunteer's on successive days before `ended_before`."""
    volunteers = max(1, rows // ROWS_PER_VOLUNTEER)
    start = ended_before - timedelta(days=ROWS_PER_VOLUNTEER + 2)
    with path.open("w", encoding="utf-8") as out:
        out.write("shift_id,volunteer_id,started_at,ended_at,task\n")
        for row in range(rows):
            began = start + timedelta(days=row // volunteers, minutes=row % 600)
            out.write(f"imp-{row:07d},imp-vol-{row % volunteers:06d},{began.isoformat()},"
                      f"{(began + timedelta(hours=3)).isoformat()},Koffie schenken\n")


async def import_phase(settings, rows: int, now: datetime, result, say) -> None:  # noqa: ANN001
    from services.importer import publish_file

    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        path = Path(folder) / "rooster.csv"
        say(f"import: writing a {rows:,}-row CSV")
        write_roster(path, rows, now)
        result.figures["import_file_mb"] = path.stat().st_size / 1024 / 1024
        say(f"import: publishing {rows:,} rows")
        wall, cpu = time.perf_counter(), time.process_time()
        # The topic has 4 partitions since phase 8: say so, or the importer warns that it differs.
        outcome = await publish_file(settings.model_copy(update={"kafka_partitions": 4}), "shifts", path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    result.figures["import"] = {"rows": outcome.published, "skipped": outcome.skipped, "seconds": wall,
                                "rate": outcome.published / wall if wall > 0 else float("nan"),
                                "cpu_share": cpu / wall if wall > 0 else float("nan")}
    if outcome.published != rows:
        result.notes.append(f"import: {outcome.published:,} of {rows:,} rows published, {outcome.skipped:,} skipped")


def import_rows(rows: int, figures: dict) -> list:
    from bench.report import Row

    nan = float("nan")
    measured = figures.get("import", {})
    return [
        Row("9 import speed (CSV -> Kafka)", measured.get("rate", nan), "rows/s", at_least=TARGET,
            note=f"{measured.get('rows', 0):,} of {rows:,} rows ({figures.get('import_file_mb', nan):.0f} MB) in "
                 f"{measured.get('seconds', nan):.2f} s; process CPU {measured.get('cpu_share', nan):.0%} of one core "
                 f"({measured.get('rate', nan) / measured.get('cpu_share', nan):,.0f} rows per CPU-second)"),
    ]
