"""`dankjewel rules check FILE`: refuses a bad file naming file and line (exit 2), and
shows what a good one would change for the volunteers in DATABASE_URL (SQLite here,
PostgreSQL in tests/integration/test_rules_change.py), reading only."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from services.appreciation import domain
from services.appreciation.rules import DEFAULT_RULES_FILE, load_rules
from services.appreciation.tables import ledger, rules_applied, shifts, volunteers
from services.cli import app
from shared.db import create_engine

NOW = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
ELEVEN = "    at: [10, 25, 50, 100]\n    notify: [milestone-card]\n  - measure: shifts\n    at: [11]\n" \
         "    notify: [milestone-card]\n"


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no var/local.env from a `make run` here
    environment = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dankjewel.db'}"}
    assert CliRunner().invoke(app, ["migrate"], env=environment).exit_code == 0
    return environment


async def _fill(url: str) -> None:
    """Two volunteers with twelve shifts: `old` long ago, `fresh` the 11th five days ago;
    the shipped rules applied."""
    engine = create_engine(url)
    old_ends = [NOW - timedelta(days=400 - 7 * n) for n in range(12)]
    fresh_ends = old_ends[:10] + [NOW - timedelta(days=5), NOW - timedelta(days=4)]
    async with engine.begin() as connection:
        for volunteer_id, ends in (("old", old_ends), ("fresh", fresh_ends)):
            await connection.execute(volunteers.insert().values(volunteer_id=volunteer_id, shift_count=12))
            await connection.execute(shifts.insert(), [dict(shift_id=f"{volunteer_id}-{n}", volunteer_id=volunteer_id,
                                                            started_at=end - timedelta(hours=2), ended_at=end)
                                                       for n, end in enumerate(ends)])
            await connection.execute(ledger.insert(), [dict(volunteer_id=volunteer_id, milestone=m, reached_on=NOW.date(),
                                                            detected_at=NOW, celebrated=False)
                                                       for m in ("first-shift", "shifts-10")])
        await connection.execute(volunteers.insert().values(volunteer_id="gone", shift_count=12, erased_at=NOW))
        await connection.execute(shifts.insert(), [dict(shift_id=f"gone-{n}", volunteer_id="gone",
                                                        started_at=end - timedelta(hours=2), ended_at=end)
                                                   for n, end in enumerate(fresh_ends)])
        await connection.execute(rules_applied.insert().values(name="rules", applied_at=NOW,
                                                               digest=domain.rules_digest(load_rules())))
    await engine.dispose()


async def _ledger_rows(url: str) -> int:
    engine = create_engine(url)
    async with engine.connect() as connection:
        count = await connection.scalar(select(func.count()).select_from(ledger))
    await engine.dispose()
    return count


@pytest.mark.parametrize(("text", "message"), [
    ("milestones:\n  - measure: shifts\n    at: [10, 5]\n    notify: [milestone-card]\n",
     "line 3: milestones.0.at: Value error, thresholds must be positive, ascending and distinct"),
    ("milestones: []\nfollowups:\n  quiet_after_days: 0\n",
     "line 3: followups.quiet_after_days: Input should be greater than or equal to 1"),
    ("milestones:\n  - measure: years\n    at: [1]\n    per: year\n    notify: [service-anniversary]\n",
     "line 2: milestones.0: Value error, `per: year` applies to shifts and hours only"),
    ("milestones: [\n", "line 2: not valid YAML"),
])
def test_a_bad_file_is_refused_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path} {message}" in result.output or (str(path) in result.output and message in result.output)


def test_a_missing_file_is_refused(tmp_path):
    result = CliRunner().invoke(app, ["rules", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_it_counts_per_milestone_what_would_be_celebrated_and_what_recorded_silently(tmp_path, database):
    asyncio.run(_fill(database["DATABASE_URL"]))
    path = tmp_path / "new.yaml"
    path.write_text(DEFAULT_RULES_FILE.read_text().replace("    at: [10, 25, 50, 100]\n    notify: [milestone-card]\n",
                                                           ELEVEN))
    result = CliRunner().invoke(app, ["rules", "check", str(path), "--as-of", NOW.isoformat()], env=database)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}: valid (16 milestones, grace window 14 days")
    assert "2 volunteers in DATABASE_URL; these rules differ from those last applied" in result.output
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith(("shifts-11", "total"))}
    assert rows == {"shifts-11": ["1", "1"], "total": ["1", "1"]}  # fresh celebrated, old silent, erased not counted
    assert asyncio.run(_ledger_rows(database["DATABASE_URL"])) == 4  # read only


def test_the_grace_window_is_measured_from_as_of(tmp_path, database):
    asyncio.run(_fill(database["DATABASE_URL"]))
    path = tmp_path / "new.yaml"
    path.write_text(DEFAULT_RULES_FILE.read_text().replace("    at: [10, 25, 50, 100]\n    notify: [milestone-card]\n",
                                                           ELEVEN))
    later = (NOW + timedelta(days=30)).isoformat()
    result = CliRunner().invoke(app, ["rules", "check", str(path), "--as-of", later], env=database)
    assert result.exit_code == 0, result.output
    assert next(line for line in result.output.splitlines() if line.startswith("shifts-11")).split()[1:] == ["0", "2"]


def test_the_shipped_rules_change_nothing_for_volunteers_that_have_their_milestones(database):
    asyncio.run(_fill(database["DATABASE_URL"]))
    result = CliRunner().invoke(app, ["rules", "check", str(DEFAULT_RULES_FILE), "--as-of", NOW.isoformat()],
                                env=database)
    assert result.exit_code == 0, result.output
    assert "nothing would be recorded" in result.output
    assert "these are the rules last applied: starting with them changes nothing" in result.output


def test_before_any_rules_were_applied_it_says_the_next_start_takes_them_as_they_are(database):
    result = CliRunner().invoke(app, ["rules", "check", str(DEFAULT_RULES_FILE)], env=database)
    assert result.exit_code == 0, result.output
    assert "0 volunteers in DATABASE_URL; no rules were applied yet" in result.output


def test_an_unreadable_database_is_an_error_not_an_empty_answer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["rules", "check", str(DEFAULT_RULES_FILE)],
                                env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"})
    assert result.exit_code == 1 and "cannot read the appreciation tables" in result.output
