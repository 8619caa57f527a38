"""Coordinators' accounts and signing in to the console.

Accounts live in `console_users` (`dankjewel users add|list|disable`); passwords are
Argon2id hashes. A signed-in person carries a signed, timestamped cookie
`dankjewel_console` = {"email", "csrf"}; every request looks the account up again,
so disabling an account ends its sessions at once.

For the console's pages:

    person_required(runtime)            a dependency: `person: Person = Depends(person_required(runtime))`;
                                        no valid session → SignInRequired → 303 to <root>/login?next=<path>
    install(app)                        adds the handlers for SignInRequired and CsrfRejected (call it on the app)
    await signed_in(request, runtime)   the Person, or None
    check_csrf(person, form["csrf"])    raises CsrfRejected (an HTTPException 403) unless it is the session's token
    Person(email, role, language, csrf) with .principal → shared.auth.Principal (kind "person")
    routes(runtime)                     GET/POST /login, POST /logout

Failed sign-ins are counted in `console_signin_failures` per account and per client
address, so guessing stays slow however many instances run.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.console import domain, usecases
from services.console.texts import Words
from shared.auth import Principal
from shared.settings import require_secret

TEMPLATES = Path(__file__).parent / "templates"

SESSION_COOKIE = "dankjewel_console"
SESSION_SALT = "dankjewel-console-session"
SIGNIN_CSRF_COOKIE = "dankjewel_console_csrf"
SIGNIN_CSRF_SALT = "dankjewel-console-signin-csrf"


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Person:
    """Who is signed in, as the console's pages see them."""

    email: str
    role: str
    language: str
    csrf: str

    @property
    def principal(self) -> Principal:
        return Principal("person", self.email, domain.ROLES.get(self.role, frozenset()))


class SignInRequired(Exception):
    """No valid session; `install(app)` turns it into a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(HTTPException):
    """A form without the right CSRF token: 403, and nothing was done."""

    def __init__(self, language: str = "nl") -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, detail="the form's CSRF token is missing or wrong")
        self.language = language


class _ClockSigner(TimestampSigner):
    """Timestamps from the runtime's clock, so tests can let a session expire."""

    def __init__(self, *args, clock, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


def _serializer(runtime, salt: str) -> URLSafeTimedSerializer:  # noqa: ANN001
    secret = require_secret(runtime.settings, "console_session_secret")
    return URLSafeTimedSerializer(secret, salt=salt, signer=_ClockSigner, signer_kwargs={"clock": runtime.clock})


def _max_age(runtime) -> int:  # noqa: ANN001
    return runtime.settings.console_session_hours * 3600


def _root(request: Request) -> str:
    return request.scope.get("root_path", "")


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path=_root(request) or "/", httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def _delete_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=_root(request) or "/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")


async def signed_in(request: Request, runtime) -> Person | None:  # noqa: ANN001
    """The person whose valid session cookie came with the request, if their account is active."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        session = _serializer(runtime, SESSION_SALT).loads(cookie, max_age=_max_age(runtime))
        email, csrf = session["email"], session["csrf"]
    except (BadSignature, KeyError, TypeError):
        return None
    row = await usecases.active_account(runtime.engine, email)
    return None if row is None else Person(email=email, role=row.role, language=row.language, csrf=csrf)


def person_required(runtime):  # noqa: ANN001, ANN201 - a FastAPI dependency
    """Dependency for a page: the signed-in Person, or SignInRequired (→ the sign-in page)."""

    async def person(request: Request) -> Person:
        found = await signed_in(request, runtime)
        if found is None:
            query = request.url.query
            raise SignInRequired(request.url.path + (f"?{query}" if query else ""))
        return found

    return person


def check_csrf(person: Person, submitted: str | None) -> None:
    """Raise CsrfRejected (403) unless the form carried the session's token."""
    if not submitted or not hmac.compare_digest(submitted.encode(), person.csrf.encode()):
        raise CsrfRejected(person.language)


def install(app: FastAPI) -> None:
    """Add the handlers that turn SignInRequired into a redirect and CsrfRejected into a page."""

    async def to_sign_in(request: Request, error: SignInRequired) -> Response:
        target = f"{_root(request)}/login?{urlencode({'next': error.next_path})}"
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)

    async def refused(request: Request, error: CsrfRejected) -> Response:
        return _refused_page(request, error.language)

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.add_exception_handler(CsrfRejected, refused)


# ---------------------------------------------------------------- pages


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)


REFUSED = """{% extends "base.html" %}
{% block title %}{{ t.request_refused }}{% endblock %}
{% block main %}
<h1>{{ t.request_refused }}</h1>
<p role="alert">{{ t.request_refused_text }}</p>
<p><a href="{{ base }}/">{{ t.to_start }}</a></p>
{% endblock %}"""


def _render(request: Request, language: str, status_code: int, template: str | None = None, **values) -> HTMLResponse:
    environment = _environment()
    page = environment.get_template(template) if template else environment.from_string(REFUSED)
    body = page.render(t=Words(language), language=language, base=_root(request), person=None, **values)
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refused_page(request: Request, language: str) -> HTMLResponse:
    return _render(request, language, status.HTTP_403_FORBIDDEN)


def page_language(accept_language: str | None) -> str:
    """nl, unless the browser prefers en (by q-value, then by order)."""
    best: tuple[float, int, str] = (0.0, 0, "nl")
    for index, part in enumerate((accept_language or "").split(",")):
        tag, *parameters = part.split(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in domain.LANGUAGES:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (quality, -index) > best[:2]:
            best = (quality, -index, primary)
    return best[2]


def safe_next(value: str | None) -> str | None:
    """A path on this site to go to after signing in, or None: no scheme, no host, no
    `//` or `\\` (which browsers read as another host), no control characters."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return None
    return value


def routes(runtime) -> APIRouter:  # noqa: ANN001
    """Sign-in and sign-out pages (HTML, no token: they are how a person gets a session)."""
    router = APIRouter(include_in_schema=False)
    signin_tokens = lambda: _serializer(runtime, SIGNIN_CSRF_SALT)  # noqa: E731 - reads the secret when used

    def form(request: Request, language: str, status_code: int, *, error: str | None = None,
             email: str = "", next_path: str | None = None) -> HTMLResponse:
        # Double-submit: the same random token in a signed cookie and in the form. Another
        # site can neither read the cookie nor make the browser send it (SameSite=Lax).
        token = _signin_token(request)
        if token is None:
            token = secrets.token_urlsafe(32)
        response = _render(request, language, status_code, "login.html", error=error, email=email,
                           next=next_path, csrf=token)
        _set_cookie(response, request, SIGNIN_CSRF_COOKIE, signin_tokens().dumps(token), None)
        return response

    def _signin_token(request: Request) -> str | None:
        cookie = request.cookies.get(SIGNIN_CSRF_COOKIE)
        if not cookie:
            return None
        try:
            token = signin_tokens().loads(cookie, max_age=_max_age(runtime))
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002
        return form(request, page_language(request.headers.get("accept-language")), status.HTTP_200_OK,
                    next_path=safe_next(next))

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                    csrf: Annotated[str | None, Form()] = None,
                    next: Annotated[str | None, Form()] = None) -> Response:  # noqa: A002
        language = page_language(request.headers.get("accept-language"))
        expected = _signin_token(request)
        if not expected or not csrf or not hmac.compare_digest(csrf.encode(), expected.encode()):
            return _refused_page(request, language)
        next_path = safe_next(next)
        address = request.client.host if request.client else "unknown"
        outcome, user = await usecases.sign_in(runtime.engine, email, password, address, runtime.clock())
        if outcome == "throttled":
            return form(request, language, status.HTTP_429_TOO_MANY_REQUESTS, error=Words(language).too_many_attempts,
                        email=email, next_path=next_path)
        if outcome == "failed":
            return form(request, language, status.HTTP_401_UNAUTHORIZED, error=Words(language).sign_in_failed,
                        email=email, next_path=next_path)
        # A new session token on every sign-in: a token planted before it is worth nothing.
        session = {"email": user.email, "csrf": secrets.token_urlsafe(32)}
        response = RedirectResponse(next_path or "./", status.HTTP_303_SEE_OTHER)
        _set_cookie(response, request, SESSION_COOKIE, _serializer(runtime, SESSION_SALT).dumps(session),
                    _max_age(runtime))
        _delete_cookie(response, request, SIGNIN_CSRF_COOKIE)
        return response

    @router.post("/logout")
    async def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
        person = await signed_in(request, runtime)
        if person is not None:
            try:
                check_csrf(person, csrf)
            except CsrfRejected:
                return _refused_page(request, person.language)
        response = RedirectResponse(f"{_root(request)}/login", status.HTTP_303_SEE_OTHER)
        _delete_cookie(response, request, SESSION_COOKIE)
        return response

    return router
