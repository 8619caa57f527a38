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
