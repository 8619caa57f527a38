"""What every HTTP API does before a route runs: body limit, answers to invalid
input that do not echo it, and the Host check. One row per case."""

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, EmailStr, Field

from shared.http import harden
from services.settings import load_settings


class PersonIn(BaseModel):
    name: str = Field(max_length=20)
    email: EmailStr
    limit: int = Field(default=10, ge=1, le=1000)


def _app(**settings) -> FastAPI:
    app = harden(FastAPI(), load_settings(**settings))

    @app.post("/people")
    async def add(person: PersonIn) -> dict:
        return {"ok": True}

    return app


@pytest.fixture
def client():
    with TestClient(_app(http_max_body_bytes=1024 * 1024), base_url="http://127.0.0.1") as test_client:
        yield test_client


def test_a_20_mb_body_gets_a_short_413(client):
    response = client.post("/people", content=b"x" * (20 * 1024 * 1024), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert len(response.content) < 200 and response.json()["detail"].startswith("the request body is larger")


def test_a_chunked_body_without_length_is_cut_off_at_the_limit(client):
    def chunks():
        for _ in range(40):
            yield b"x" * 65536

    response = client.post("/people", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(("body", "field", "secret_input"), [
    ({"name": "Henk de Vries " * 10, "email": "henk@example.org"}, ["body", "name"], "Henk de Vries"),
    ({"name": "Henk", "email": "henk.private@@example.org"}, ["body", "email"], "henk.private"),
    ({"name": "Henk", "email": "henk@example.org", "limit": -1}, ["body", "limit"], "-1"),
])
def test_a_422_names_the_field_and_the_problem_but_never_echoes_the_input(client, body, field, secret_input):
    response = client.post("/people", json=body)
    assert response.status_code == 422
    problems = response.json()["detail"]
    assert [p["loc"] for p in problems] == [field] and problems[0]["msg"]
    assert secret_input not in response.text and "input" not in problems[0]


def test_a_body_that_is_not_json_gets_a_422_without_the_body(client):
    response = client.post("/people", content=b'{"name": "Henk private', headers={"content-type": "application/json"})
    assert response.status_code == 422 and "Henk private" not in response.text


@pytest.mark.parametrize(("allowed", "host", "status"), [
    ("localhost,127.0.0.1", "127.0.0.1:8000", 422),
    ("localhost,127.0.0.1", "localhost", 422),
    ("localhost,127.0.0.1", "attacker.example", 400),
    ("dankjewel.example.org", "dankjewel.example.org", 422),
    ("*", "anything.example", 422),
])
def test_only_configured_host_names_are_answered(allowed, host, status):
    with TestClient(_app(allowed_hosts=allowed), base_url="http://127.0.0.1") as client:
        assert client.post("/people", json={}, headers={"host": host}).status_code == status
