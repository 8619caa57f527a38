"""`dankjewel sweep` as an operator runs it: against the real broker and database,
with a progress bar when asked for (the bar on a stream that is no terminal shows
its last state)."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app


def test_the_sweep_command_reports_its_progress_per_service(settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no var/local.env here
    result = CliRunner().invoke(app, ["sweep", "--service", "checkins", "--as-of", "2026-12-01T09:00:00+01:00",
                                      "--progress", "--log-level", "WARNING"],
                                env={"KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                                     "DATABASE_URL": settings.database_url,
                                     "KAFKA_GROUP_PREFIX": settings.kafka_group_prefix})
    assert result.exit_code == 0, result.output
    assert "1/1" in result.output and "services/s" in result.output
    assert result.output.splitlines()[-1] == "sweep as of 2026-12-01T09:00:00+01:00: 0 raised"
