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
