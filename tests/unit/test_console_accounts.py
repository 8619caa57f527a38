"""Console accounts and sign-in: Argon2id hashes, signed session cookies, CSRF,
throttling in the database, safe `next`, and the `dankjewel users` commands.
On SQLite in tmp_path, through a small app that includes the accounts router."""

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Form
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from services.cli import app as cli
from services.console import accounts, domain, usecases
from services.console.tables import metadata, users
from services.console.texts import TEXTS
from services.settings import load_settings

SECRET = secrets.token_urlsafe(32)
PASSWORD = "correct horse battery"
COORDINATOR, ADMIN = "anna@example.org", "bert@example.org"
FAILED = TEXTS["nl"]["sign_in_failed"]
TOO_MANY = TEXTS["nl"]["too_many_attempts"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Console:
    app: FastAPI
    runtime: SimpleNamespace
    done: list

    def client(self, **options) -> TestClient:
        return TestClient(self.app, follow_redirects=False, **options)

    def run(self, work):  # noqa: ANN001, ANN201 - runs `work(connection)` in a transaction
        async def go():  # noqa: ANN202
            async with self.runtime.engine.begin() as connection:
                return await work(connection)

        return asyncio.run(go())


def console_app(runtime, done: list) -> FastAPI:  # noqa: ANN001
    """The accounts router plus two pages standing in for the console's own."""
    app = FastAPI()
    accounts.install(app)
    app.include_router(accounts.routes(runtime))
    Person = Annotated[accounts.Person, Depends(accounts.person_required(runtime))]

    @app.get("/")
    async def home(person: Person) -> dict:
        return {"email": person.email, "scopes": sorted(person.principal.scopes), "kind": person.principal.kind}

    @app.get("/volunteers/{volunteer_id}")
    async def volunteer(person: Person, volunteer_id: str) -> dict:
        return {"volunteer": volunteer_id}

    @app.post("/act")
    async def act(person: Person, csrf: Annotated[str | None, Form()] = None) -> dict:
        accounts.check_csrf(person, csrf)
        done.append(person.email)
        return {"done": True}

    return app


@pytest.fixture
def console(tmp_path):
    # NullPool: the test's asyncio.run and the TestClient's loop never share a connection.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}", poolclass=NullPool)

    async def create() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    asyncio.run(create())
    runtime = SimpleNamespace(settings=load_settings(console_session_secret=SECRET, console_session_hours=12),
                              engine=engine, clock=Clock())
    done: list = []
    console = Console(console_app(runtime, done), runtime, done)
    console.run(lambda c: usecases.add_user(c, COORDINATOR, "coordinator", PASSWORD))
    console.run(lambda c: usecases.add_user(c, ADMIN, "admin", PASSWORD, language="en"))
    yield console
    asyncio.run(engine.dispose())


def csrf_field(page) -> str:  # noqa: ANN001
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **fields):  # noqa: ANN201
    token = csrf_field(client.get("/login"))
    return client.post("/login", data={"email": email, "password": password, "csrf": token, **fields})


def session_cookies(response) -> list[str]:  # noqa: ANN001
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("dankjewel_console=")]


def signed_in_client(console: Console, email: str = COORDINATOR) -> TestClient:
    client = console.client()
    assert sign_in(client, email).status_code == 303
    return client


# ---------------------------------------------------------------- accounts


def test_passwords_are_argon2id_hashes_and_addresses_are_stored_lower_case(console):
    console.run(lambda c: usecases.add_user(c, "  Carla@Example.ORG ", "coordinator", "x" * 12))
    row = console.run(lambda c: c.execute(select(users).where(users.c.email == "carla@example.org"))).one()
    assert row.password_hash.startswith("$argon2id$")
    assert "x" * 12 not in row.password_hash


@pytest.mark.parametrize(("email", "role", "password", "language", "problem"), [
    ("dirk@example.org", "coordinator", "x" * 11, "nl", "shorter than 12 characters"),
    ("dirk@example.org", "boss", "x" * 12, "nl", "unknown role 'boss'; choose from coordinator, admin"),
    ("dirk@example.org", "admin", "x" * 12, "de", "unknown language 'de'"),
    ("not-an-address", "admin", "x" * 12, "nl", "is not an email address"),
    ("ANNA@example.org", "admin", "x" * 12, "nl", "an account for anna@example.org exists"),
])
def test_add_user_refuses_with_a_clear_message(console, email, role, password, language, problem):
    with pytest.raises(domain.AccountError, match=re.escape(problem)):
        console.run(lambda c: usecases.add_user(c, email, role, password, language))


def test_a_disabled_account_can_be_added_again_and_disabling_twice_says_so(console):
    console.run(lambda c: usecases.disable_user(c, COORDINATOR))
    with pytest.raises(domain.AccountError, match="no active account for anna@example.org"):
        console.run(lambda c: usecases.disable_user(c, COORDINATOR))
    console.run(lambda c: usecases.add_user(c, COORDINATOR, "admin", "a new password!"))
    listed = {u.email: u for u in console.run(usecases.list_users)}
    assert (listed[COORDINATOR].role, listed[COORDINATOR].disabled_at) == ("admin", None)
    assert not hasattr(listed[COORDINATOR], "password_hash")


# ---------------------------------------------------------------- signing in


@pytest.mark.parametrize(("base_url", "secure"), [("http://testserver", False), ("https://testserver", True)])
def test_a_good_sign_in_sets_an_httponly_samesite_cookie_and_opens_the_pages(console, base_url, secure):
    client = console.client(base_url=base_url)
    response = sign_in(client, COORDINATOR.upper())
    assert (response.status_code, response.headers["location"]) == (303, "./")
    [cookie] = session_cookies(response)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Max-Age=43200" in cookie
    assert ("Secure" in cookie) is secure
    assert client.get("/").json() == {"email": COORDINATOR, "kind": "person",
                                      "scopes": ["checkins:write", "console", "volunteers:read"]}


def test_an_admin_is_a_principal_with_the_admin_scope(console):
    client = signed_in_client(console, ADMIN)
    assert client.get("/").json()["scopes"] == ["admin"]


@pytest.mark.parametrize(("email", "password"), [
    (COORDINATOR, "wrong password!"),
    ("nobody@example.org", PASSWORD),
    ("nobody@example.org", "wrong password!"),
    ("", ""),
])
def test_a_failed_sign_in_says_the_same_whether_or_not_the_account_exists(console, email, password):
    client = console.client()
    response = sign_in(client, email, password)
    assert response.status_code == 401
    assert FAILED in response.text and 'role="alert"' in response.text
    assert not session_cookies(response)
    assert client.get("/").status_code == 303


def test_a_disabled_account_cannot_sign_in_and_gets_the_same_message(console):
    console.run(lambda c: usecases.disable_user(c, COORDINATOR))
    response = sign_in(console.client(), COORDINATOR)
    assert response.status_code == 401 and FAILED in response.text


def test_five_failures_lock_the_account_for_fifteen_minutes_even_with_the_right_password(console):
    client = console.client()
    for _ in range(domain.ACCOUNT_FAILURES):
        assert sign_in(client, COORDINATOR, "wrong password!").status_code == 401
    locked = sign_in(client, COORDINATOR)
    assert locked.status_code == 429 and TOO_MANY in locked.text and FAILED not in locked.text
    assert sign_in(console.client(), ADMIN).status_code == 303  # only that account
    console.runtime.clock.now += timedelta(minutes=14)
    assert sign_in(client, COORDINATOR).status_code == 429
    console.runtime.clock.now += timedelta(minutes=1, seconds=1)
    assert sign_in(client, COORDINATOR).status_code == 303


def test_an_unknown_address_is_locked_like_a_known_one(console):
    client = console.client()
    for _ in range(domain.ACCOUNT_FAILURES):
        assert sign_in(client, "nobody@example.org", "guess guess guess").status_code == 401
    assert sign_in(client, "nobody@example.org", "guess guess guess").status_code == 429


def test_a_good_sign_in_clears_the_accounts_failures(console):
    client = console.client()
    for _ in range(2):
        for _ in range(domain.ACCOUNT_FAILURES - 1):
            assert sign_in(client, COORDINATOR, "wrong password!").status_code == 401
        assert sign_in(client, COORDINATOR).status_code == 303


def test_failures_older_than_fifteen_minutes_no_longer_count(console):
    client = console.client()
    for _ in range(domain.ACCOUNT_FAILURES - 1):
        assert sign_in(client, COORDINATOR, "wrong password!").status_code == 401
    console.runtime.clock.now += domain.FAILURE_WINDOW
    for _ in range(domain.ACCOUNT_FAILURES - 1):
        assert sign_in(client, COORDINATOR, "wrong password!").status_code == 401
    assert sign_in(client, COORDINATOR).status_code == 303


def test_twenty_failures_from_one_address_lock_that_address_only(console):
    guesser = console.client(client=("203.0.113.9", 4000))
    for n in range(domain.ADDRESS_FAILURES):  # four accounts each, below the account limit
        assert sign_in(guesser, f"person{n % 5}@example.org", "guess guess guess").status_code == 401
    assert sign_in(guesser, COORDINATOR).status_code == 429
    assert sign_in(console.client(client=("198.51.100.7", 4000)), COORDINATOR).status_code == 303


# ---------------------------------------------------------------- sessions


def test_a_disabled_accounts_cookie_no_longer_works(console):
    client = signed_in_client(console)
    assert client.get("/").status_code == 200
    console.run(lambda c: usecases.disable_user(c, COORDINATOR))
    response = client.get("/volunteers/henk?tab=shifts")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fvolunteers%2Fhenk%3Ftab%3Dshifts"


@pytest.mark.parametrize(("later", "works"), [(timedelta(hours=11, minutes=59), True),
                                              (timedelta(hours=12, seconds=1), False)])
def test_a_session_lasts_console_session_hours(console, later, works):
    client = signed_in_client(console)
    console.runtime.clock.now += later
    assert client.get("/").status_code == (200 if works else 303)


@pytest.mark.parametrize("cookie", ["", "garbage", "eyJlbWFpbCI6ImFubmFAZXhhbXBsZS5vcmcifQ.forged.sig"])
def test_a_forged_or_damaged_cookie_is_no_session(console, cookie):
    client = console.client(cookies={"dankjewel_console": cookie})
    assert client.get("/").status_code == 303


def test_a_cookie_signed_with_another_secret_is_no_session(console):
    client = signed_in_client(console)
    console.runtime.settings = load_settings(console_session_secret=secrets.token_urlsafe(32))
    assert client.get("/").status_code == 303


def test_signing_out_clears_the_cookie_and_goes_to_the_sign_in_page(console):
    client = signed_in_client(console)
    response = client.post("/logout", data={"csrf": session_csrf(console, client)})
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert 'dankjewel_console=""' in response.headers["set-cookie"]
    assert client.get("/").status_code == 303


# ---------------------------------------------------------------- CSRF


def session_csrf(console: Console, client: TestClient) -> str:
    request = SimpleNamespace(cookies={"dankjewel_console": client.cookies["dankjewel_console"]})
    return asyncio.run(accounts.signed_in(request, console.runtime)).csrf


@pytest.mark.parametrize("path", ["/act", "/logout"])
@pytest.mark.parametrize("submitted", [None, "", "wrong", "x" * 43])
def test_a_post_without_the_sessions_token_is_refused_and_does_nothing(console, path, submitted):
    client = signed_in_client(console)
    response = client.post(path, data={} if submitted is None else {"csrf": submitted})
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"] and TEXTS["nl"]["request_refused"] in response.text
    assert console.done == [] and client.get("/").status_code == 200  # still signed in


def test_a_post_with_the_sessions_token_is_done(console):
    client = signed_in_client(console)
    assert client.post("/act", data={"csrf": session_csrf(console, client)}).json() == {"done": True}
    assert console.done == [COORDINATOR]


def test_the_session_token_of_another_person_does_not_do(console):
    anna, bert = signed_in_client(console), signed_in_client(console, ADMIN)
    assert anna.post("/act", data={"csrf": session_csrf(console, bert)}).status_code == 403


@pytest.mark.parametrize("forge", ["no cookie", "no field", "wrong field", "unsigned cookie"])
def test_a_sign_in_needs_the_double_submitted_token(console, forge):
    client = console.client()
    token = csrf_field(client.get("/login"))
    data = {"email": COORDINATOR, "password": PASSWORD, "csrf": token}
    if forge == "no cookie":
        client.cookies.clear()
    elif forge == "no field":
        del data["csrf"]
    elif forge == "wrong field":
        data["csrf"] = secrets.token_urlsafe(32)
    else:  # a site that could plant a cookie still cannot sign it
        client.cookies.clear()
        client.cookies.set("dankjewel_console_csrf", token)
    response = client.post("/login", data=data)
    assert response.status_code == 403 and not session_cookies(response)


def test_the_sign_in_token_survives_a_second_tab(console):
    client = console.client()
    first = csrf_field(client.get("/login"))
    assert csrf_field(client.get("/login")) == first


# ---------------------------------------------------------------- next, language, page


@pytest.mark.parametrize(("next_path", "location"), [
    ("/volunteers/henk?tab=shifts", "/volunteers/henk?tab=shifts"),
    (None, "./"),
    ("//evil.example", "./"),
    ("https://evil.example", "./"),
    ("/\\evil.example", "./"),
    ("/\t/evil.example", "./"),
    ("javascript:alert(1)", "./"),
    ("volunteers", "./"),
])
def test_next_is_followed_only_when_it_is_a_path_on_this_site(console, next_path, location):
    client = console.client()
    page = client.get("/login", params={} if next_path is None else {"next": next_path})
    if location == "./" and next_path:
        assert 'name="next"' not in page.text
    data = {"email": COORDINATOR, "password": PASSWORD, "csrf": csrf_field(page)}
    if next_path is not None:
        data["next"] = next_path  # posted straight, as a forger would
    response = client.post("/login", data=data)
    assert (response.status_code, response.headers["location"]) == (303, location)


@pytest.mark.parametrize(("header", "language"), [
    (None, "nl"), ("nl-NL,nl;q=0.9,en;q=0.8", "nl"), ("en-GB,en;q=0.9", "en"), ("en-US,nl;q=0.5", "en"),
    ("de-DE,de;q=0.9,en;q=0.5", "en"), ("fr", "nl"), ("en;q=0", "nl"), ("en;q=0.4,nl;q=0.6", "nl"), ("en, nl", "en"),
])
def test_the_sign_in_page_speaks_dutch_unless_the_browser_prefers_english(console, header, language):
    page = console.client().get("/login", headers={} if header is None else {"Accept-Language": header})
    assert f'<html lang="{language}">' in page.text and TEXTS[language]["sign_in"] in page.text


def test_the_sign_in_form_has_labelled_fields_and_escapes_what_it_echoes(console):
    client = console.client()
    page = client.get("/login")
    for field in ("email", "password"):
        assert f'<label for="{field}">' in page.text and f'id="{field}" name="{field}"' in page.text
    response = sign_in(client, '"><script>alert(1)</script>', "wrong password!")
    assert "<script>alert(1)" not in response.text and "&lt;script&gt;" in response.text


def test_under_run_all_the_console_lives_at_its_mount_path(console):
    outer = FastAPI()
    outer.mount("/console", console.app)
    client = TestClient(outer, follow_redirects=False)
    response = client.get("/console/volunteers/henk")
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fvolunteers%2Fhenk"
    page = client.get("/console/login", params={"next": "/console/volunteers/henk"})
    assert 'action="/console/login"' in page.text
    signed = client.post("/console/login", data={"email": COORDINATOR, "password": PASSWORD, "csrf": csrf_field(page),
                                                 "next": "/console/volunteers/henk"})
    assert signed.headers["location"] == "/console/volunteers/henk"
    assert "Path=/console" in session_cookies(signed)[0]
    assert client.get("/console/volunteers/henk").json() == {"volunteer": "henk"}


def test_a_password_hashed_with_older_parameters_is_rehashed_on_sign_in(console):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    console.run(lambda c: c.execute(update(users).where(users.c.email == COORDINATOR).values(password_hash=weak)))
    assert sign_in(console.client(), COORDINATOR).status_code == 303
    stored = console.run(lambda c: c.scalar(select(users.c.password_hash).where(users.c.email == COORDINATOR)))
    assert stored != weak and usecases._hasher.verify(stored, PASSWORD)
    assert not usecases._hasher.check_needs_rehash(stored)


# ---------------------------------------------------------------- dankjewel users


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no var/local.env from a `make run` here
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}


def test_users_add_reads_the_password_from_stdin_and_list_never_shows_the_hash(cli_env):
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "Erik@Example.org", "--role", "admin", "--password-stdin",
                                "--language", "en"], input="a long enough secret\nsecond line\n", env=cli_env)
    assert added.exit_code == 0, added.output
    assert "erik@example.org (admin, en) added" in added.output
    listed = runner.invoke(cli, ["users", "list"], env=cli_env)
    assert listed.exit_code == 0 and "erik@example.org" in listed.output and "active" in listed.output
    assert "$argon2" not in listed.output and "secret" not in listed.output
    assert runner.invoke(cli, ["users", "disable", "erik@example.org"], env=cli_env).exit_code == 0
    assert "disabled 20" in runner.invoke(cli, ["users", "list"], env=cli_env).output

    async def stored() -> str:
        engine = create_async_engine(cli_env["DATABASE_URL"], poolclass=NullPool)
        async with engine.connect() as connection:
            value = await connection.scalar(select(users.c.password_hash))
        await engine.dispose()
        return value

    assert usecases._hasher.verify(asyncio.run(stored()), "a long enough secret")  # the first line only


@pytest.mark.parametrize(("arguments", "stdin", "problem"), [
    (["--role", "coordinator", "--password-stdin"], "too short\n", "shorter than 12 characters"),
    (["--role", "coordinator", "--password-stdin"], "", "shorter than 12 characters"),
    (["--role", "chief", "--password-stdin"], "a long enough secret\n", "unknown role 'chief'"),
    (["--role", "coordinator"], "a long enough secret\n", "give --password-stdin"),
])
def test_users_add_refuses_and_exits_2(cli_env, arguments, stdin, problem):
    result = CliRunner().invoke(cli, ["users", "add", "fien@example.org", *arguments], input=stdin, env=cli_env)
    assert result.exit_code == 2 and problem in result.output
    assert "fien@example.org" not in CliRunner().invoke(cli, ["users", "list"], env=cli_env).output


def test_users_disable_names_an_unknown_account(cli_env):
    result = CliRunner().invoke(cli, ["users", "disable", "ghost@example.org"], env=cli_env)
    assert result.exit_code == 2 and "no active account for ghost@example.org" in result.output
