"""Command-line refusals that need no servers."""

from typer.testing import CliRunner

from services.cli import app


def test_background_names_the_services_that_have_background_loops():
    result = CliRunner().invoke(app, ["background", "tasks"])
    assert result.exit_code == 2
    assert "'tasks' has no background loops; choose from appreciation" in result.output


def test_run_refuses_an_unknown_service():
    result = CliRunner().invoke(app, ["run", "billing"])
    assert result.exit_code == 2
    assert "unknown service 'billing'" in result.output


def test_run_refuses_to_start_without_a_usable_unsubscribe_secret_and_names_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no var/local.env from a `make run` here
    monkeypatch.delenv("UNSUBSCRIBE_SECRET", raising=False)
    for environment, problem in [({}, "UNSUBSCRIBE_SECRET is not set"),
                                 ({"UNSUBSCRIBE_SECRET": "dankjewel-development-secret"},
                                  "UNSUBSCRIBE_SECRET is a value published in the dankjewel repository"),
                                 ({"UNSUBSCRIBE_SECRET": "s" * 31}, "UNSUBSCRIBE_SECRET is shorter than 32")]:
        for service in ("all", "appreciation"):
            result = CliRunner().invoke(app, ["run", service], env=environment)
            assert result.exit_code == 2, result.output
            assert problem in result.output


def test_migrate_applies_every_services_migrations_once_and_says_which(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no var/local.env from a `make run` here
    environment = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dankjewel.db'}"}
    first = CliRunner().invoke(app, ["migrate"], env=environment)
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    for service in ("registration", "tasks", "checkins", "appreciation", "console"):
        assert any(line.startswith(f"{service}: applied {service}_0001") for line in lines), first.output
    applied = int(lines[-1].split()[0])
    assert applied >= 5 and lines[-1] == f"{applied} migrations applied"

    again = CliRunner().invoke(app, ["migrate", "tasks"], env=environment)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == "0 migrations applied"
    assert again.output.startswith("tasks: at tasks_") and "nothing to apply" in again.output


def test_migrate_refuses_an_unknown_service_before_touching_the_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["migrate", "billing"],
                                env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"})
    assert result.exit_code == 2
    assert "unknown service 'billing'" in result.output
    assert not (tmp_path / "x.db").exists()


def test_a_progress_bar_only_on_a_terminal_unless_asked_for(capsys):
    from services.cli import _progress_bar

    with _progress_bar(None, "importing shifts", 1200, "rows") as bar:  # pytest's stderr is no terminal
        for _ in range(1200):
            bar.count()
    assert capsys.readouterr().err == ""

    with _progress_bar(True, "importing shifts", 1200, "rows") as bar:  # --progress
        for _ in range(1200):
            bar.count()
    shown = capsys.readouterr()
    assert shown.out == ""
    assert "importing shifts" in shown.err and "1200/1200" in shown.err and "rows/s" in shown.err


def test_import_replay_and_sweep_offer_the_progress_switch():
    for command in (["import", "--help"], ["dlq", "replay", "--help"], ["sweep", "--help"]):
        result = CliRunner().invoke(app, command, terminal_width=200)
        assert result.exit_code == 0 and "--progress" in result.output and "--no-progress" in result.output
