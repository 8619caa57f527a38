"""API tokens: the token file, the checks every data route makes, and a walk over
every service's OpenAPI document that fails when any data endpoint answers a caller
without a token (so a new endpoint without authentication fails it too)."""

import json
import os
import re
import secrets

import pytest
from fastapi.testclient import TestClient

from services.registry import all_services
from shared.auth import SCOPES, Authenticator, TokenFile, TokenFileError
from shared.service import ServiceRuntime
from services.settings import load_settings

# The only routes a caller without a token may reach: they read and change no
# volunteer's data (health, readiness), or carry their own proof (the signed unsubscribe link).
# Not behind a token: probes, and the signed links in volunteers' mail (the token in
# the path is the credential).
PUBLIC = {("GET", "/health"), ("GET", "/ready"), ("GET", "/unsubscribe/{token}"), ("POST", "/unsubscribe/{token}"),
          ("GET", "/unsubscribe/{token}/shift-reminders"), ("POST", "/unsubscribe/{token}/shift-reminders"),
          ("GET", "/shifts/decline/{token}"), ("POST", "/shifts/decline/{token}")}


@pytest.fixture
def token_file(tmp_path):
    return TokenFile(tmp_path / "api-tokens.json")


def test_the_file_keeps_only_a_hash_and_the_token_works_once_created(token_file):
    token = token_file.create("roster", ["shifts:write"])
    assert token.startswith("dkj_") and len(token) > 40
    assert token not in token_file.path.read_text()
    assert oct(token_file.path.stat().st_mode & 0o777) == "0o600"
    principal = Authenticator(token_file.path).principal(token)
    assert (principal.kind, principal.name, principal.scopes) == ("token", "roster", frozenset({"shifts:write"}))


@pytest.mark.parametrize(("name", "scopes", "problem"), [
    ("roster", ["bogus"], "unknown scope bogus"),
    ("roster", [], "at least one --scope"),
    ("has space", ["admin"], "a token name is"),
    ("../etc", ["admin"], "a token name is"),
])
def test_create_refuses_bad_names_and_scopes(token_file, name, scopes, problem):
    with pytest.raises(TokenFileError, match=re.escape(problem)):
        token_file.create(name, scopes)


def test_a_second_active_token_of_one_name_is_refused_and_revoking_an_unknown_one_says_so(token_file):
    token_file.create("crm", ["volunteers:read"])
    with pytest.raises(TokenFileError, match="exists"):
        token_file.create("crm", ["admin"])
    with pytest.raises(TokenFileError, match="no active token named nobody"):
        token_file.revoke("nobody")


def test_a_revoked_token_is_refused_without_a_restart_and_the_name_can_be_reused(token_file):
    authenticator = Authenticator(token_file.path)
    old = token_file.create("crm", ["volunteers:read"])
    assert authenticator.principal(old) is not None
    token_file.revoke("crm")
    assert authenticator.principal(old) is None
    new = token_file.create("crm", ["volunteers:read"])
    assert authenticator.principal(new) is not None and authenticator.principal(old) is None


def test_a_damaged_token_file_refuses_everyone_rather_than_keeping_old_tokens(token_file, caplog):
    authenticator = Authenticator(token_file.path)
    token = token_file.create("crm", ["admin"])
    assert authenticator.principal(token) is not None
    token_file.path.write_text("{not json")
    assert authenticator.principal(token) is None
    assert "not a dankjewel token file" in caplog.text


@pytest.mark.parametrize(("held", "asked", "allowed"), [
    ({"shifts:write"}, "shifts:write", True),
    ({"shifts:write"}, "volunteers:read", False),
    ({"volunteers:read"}, "volunteers:write", False),
    ({"admin"}, "volunteers:write", True),
    ({"admin"}, "mail:read", True),
    ({"mail:read", "volunteers:read"}, "mail:read", True),
])
def test_scopes(token_file, held, asked, allowed):
    principal = Authenticator(token_file.path).principal(token_file.create("t", sorted(held)))
    assert principal.allows(asked) is allowed


def _runtimes(tmp_path):
    settings = load_settings(api_tokens_file=tmp_path / "api-tokens.json",
                             unsubscribe_secret=secrets.token_urlsafe(32),
                             console_session_secret=secrets.token_urlsafe(32))
    return [ServiceRuntime(definition, settings) for definition in all_services().values()]


def _operations(app):
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_every_data_endpoint_of_every_service_refuses_a_caller_without_a_token(tmp_path):
    checked = 0
    for runtime in _runtimes(tmp_path):
        app = runtime.http_app()
        with TestClient(app, base_url="http://127.0.0.1") as client:
            for method, path, _ in _operations(app):
                if (method, path) in PUBLIC:
                    continue
                url = re.sub(r"\{[^}]+\}", "x1", path)
                for headers in ({}, {"Authorization": "Bearer dkj_unknown"}, {"Authorization": "Basic YTpi"}):
                    response = client.request(method, url, json={}, headers=headers)
                    assert response.status_code == 401, (runtime.name, method, path, headers, response.text)
                    assert response.headers["www-authenticate"] == "Bearer"
                checked += 1
    assert checked >= 20  # every service's routes were walked, not an empty document


def test_run_all_answers_a_caller_without_a_token_with_401_too(tmp_path):
    from shared.service import combined_app

    runtimes = _runtimes(tmp_path)
    with TestClient(combined_app(runtimes, runtimes[0].settings), base_url="http://127.0.0.1") as client:
        paths = ["/volunteers/henk/export"] + [
            f"/{runtime.name}{re.sub(r'{[^}]+}', 'x1', path)}"
            for runtime in runtimes for method, path, _ in _operations(runtime.http_app())
            if method == "GET" and (method, path) not in PUBLIC]
        for path in paths:
            assert client.get(path).status_code == 401, path
    assert len(paths) > 8


def test_every_data_endpoint_declares_the_bearer_scheme_in_openapi(tmp_path):
    for runtime in _runtimes(tmp_path):
        document = runtime.http_app().openapi()
        assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        for method, path, operation in _operations(runtime.http_app()):
            if (method, path) not in PUBLIC:
                assert operation.get("security") == [{"HTTPBearer": []}], (runtime.name, method, path)


def test_a_token_without_the_scope_gets_403_and_names_the_scope(tmp_path):
    runtime = next(r for r in _runtimes(tmp_path) if r.name == "registration")
    token = TokenFile(runtime.settings.api_tokens_file).create("roster", ["shifts:write"])
    with TestClient(runtime.http_app(), base_url="http://127.0.0.1") as client:
        response = client.get("/volunteers/henk", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {"detail": "this token lacks the scope volunteers:read"}


def test_every_scope_a_route_asks_for_is_a_documented_scope():
    assert set(SCOPES) >= {"volunteers:read", "volunteers:write", "opportunities:write", "shifts:write",
                           "checkins:write", "mail:read", "admin"}
    with pytest.raises(ValueError):
        Authenticator(os.devnull).requires("volunteers:delete")


def test_the_cli_prints_the_token_last_and_lists_without_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from services.cli import app

    monkeypatch.setenv("API_TOKENS_FILE", str(tmp_path / "tokens.json"))
    runner = CliRunner()
    created = runner.invoke(app, ["tokens", "create", "roster", "--scope", "shifts:write", "--scope", "shifts:read"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("dkj_")
    listed = runner.invoke(app, ["tokens", "list"])
    assert "roster" in listed.output and "shifts:read,shifts:write" in listed.output and token not in listed.output
    assert runner.invoke(app, ["tokens", "revoke", "roster"]).exit_code == 0
    assert json.loads((tmp_path / "tokens.json").read_text())["tokens"][0]["revoked_at"]
    refused = runner.invoke(app, ["tokens", "create", "x", "--scope", "everything"])
    assert refused.exit_code == 2 and "unknown scope everything" in refused.output


def test_every_console_page_sends_a_caller_without_a_session_to_the_sign_in_page(tmp_path):
    from fastapi.routing import APIRoute

    from services.console import web

    runtime = next(r for r in _runtimes(tmp_path) if r.name == "console")
    app = runtime.http_app()
    pages = [(method, route.path) for route in web.routes(runtime).routes if isinstance(route, APIRoute)
             for method in route.methods]
    assert len(pages) >= 6
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        for method, path in pages:
            response = client.request(method, re.sub(r"\{[^}]+\}", "1", path))
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next="), (method, path)
