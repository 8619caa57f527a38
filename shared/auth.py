"""Who is calling, and may they? API tokens with scopes, checked on every data endpoint.

Systems send `Authorization: Bearer <token>`. The token file (API_TOKENS_FILE)
holds only SHA-256 hashes of the tokens: the tokens are 256-bit random values,
so a fast hash is as safe as a slow one and costs nothing per request. Every
service reads the same file and reloads it when it changes, so a created or
revoked token takes effect without a restart.

Every kind of caller becomes a `Principal`, and every route asks for one through
`Authenticator.requires(scope)`; the coordinator console's signed-in people will
be one more way to arrive at a Principal, through the same dependency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

log = logging.getLogger(__name__)

SCOPES: dict[str, str] = {
    "volunteers:read": "read volunteers' profiles, shifts, check-ins, milestones and matches",
    "volunteers:write": "register and update volunteers, record their offers of help",
    "opportunities:read": "read opportunities and their flyers",
    "opportunities:write": "publish, open and close opportunities",
    "shifts:read": "read shifts",
    "shifts:write": "schedule, assign and report shifts",
    "checkins:write": "record held check-ins",
    "mail:read": "read the mail queue",
    "metrics:read": "read the operational metrics (/metrics: counts only, no personal data)",
    "admin": "everything, including erasure and export",
}
TOKEN_PREFIX = "dkj_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenFileError(Exception):
    """The token file cannot be read or changed as asked; the message says why."""


@dataclass(frozen=True)
class Principal:
    """A caller that proved who it is: a system's API token or (later) a signed-in person."""

    kind: Literal["token", "person"]
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class StoredToken:
    name: str
    sha256: str
    scopes: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenFile:
    """The token file: create, list and revoke tokens (the `dankjewel tokens` commands)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[StoredToken]:
        if not self.path.exists():
            return []
        try:
            document = json.loads(self.path.read_text())
            return [StoredToken(name=t["name"], sha256=t["sha256"], scopes=tuple(t["scopes"]),
                                created_at=t["created_at"], revoked_at=t.get("revoked_at"))
                    for t in document["tokens"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TokenFileError(f"API_TOKENS_FILE {self.path} is not a dankjewel token file "
                                 f"({type(error).__name__})") from None

    def _write(self, tokens: list[StoredToken]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"tokens": [t.__dict__ for t in tokens]}
        # Written beside and renamed: a service reading it never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".api-tokens-")
        with os.fdopen(handle, "w") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, self.path)

    def create(self, name: str, scopes: list[str], now: datetime | None = None) -> str:
        """Store the hash of a new random token and return the token itself (shown once)."""
        if not _NAME.match(name):
            raise TokenFileError("a token name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise TokenFileError(f"unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}"
                                 if unknown else "give at least one --scope")
        tokens = self.read()
        if any(t.name == name and t.revoked_at is None for t in tokens):
            raise TokenFileError(f"a token named {name} exists; revoke it first or choose another name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        created = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        self._write([t for t in tokens if t.name != name] +
                    [StoredToken(name=name, sha256=_digest(token), scopes=tuple(sorted(set(scopes))),
                                 created_at=created)])
        return token

    def revoke(self, name: str, now: datetime | None = None) -> None:
        tokens = self.read()
        if not any(t.name == name and t.revoked_at is None for t in tokens):
            raise TokenFileError(f"no active token named {name}")
        revoked = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        self._write([StoredToken(**(t.__dict__ | {"revoked_at": revoked})) if t.name == name else t
                     for t in tokens])


class Authenticator:
    """Checks callers against the token file, reloading it when it changed."""

    def __init__(self, tokens_file: Path) -> None:
        self.file = TokenFile(tokens_file)
        self._seen: tuple[int, int] | None = None
        self._active: list[StoredToken] = []
        self._lock = threading.Lock()
        self._bearer = HTTPBearer(auto_error=False, description="An API token: `dankjewel tokens create`")
        self._authenticate_dependency = self._authenticate()

    def _tokens(self) -> list[StoredToken]:
        try:
            stat = self.file.path.stat()
            seen = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = None
        with self._lock:
            if seen != self._seen:
                try:
                    self._active = [t for t in self.file.read() if t.revoked_at is None]
                except TokenFileError as error:
                    # Refuse everyone rather than keep tokens the administrator may have revoked.
                    log.error("%s; every API call is refused until it is fixed", error)
                    self._active = []
                self._seen = seen
            return self._active

    def principal(self, token: str) -> Principal | None:
        """The caller holding `token`, or None. Compares against every stored hash in
        constant time, so timing tells nothing about how close a guess was."""
        digest = _digest(token)
        found = None
        for stored in self._tokens():
            if hmac.compare_digest(stored.sha256, digest):
                found = stored
        return None if found is None else Principal("token", found.name, frozenset(found.scopes))

    def _authenticate(self):  # noqa: ANN202 - a FastAPI dependency
        # HTTPBearer as a dependency is what declares the security scheme in OpenAPI.
        async def authenticate(credentials: HTTPAuthorizationCredentials | None = Depends(self._bearer)) -> Principal:
            principal = self.principal(credentials.credentials) if credentials else None
            if principal is None:
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="a valid API token is required",
                                    headers={"WWW-Authenticate": "Bearer"})
            return principal

        return authenticate

    def authenticated(self):  # noqa: ANN201 - a FastAPI dependency
        """Dependency for a route that checks scopes itself: any valid token."""
        return Depends(self._authenticate_dependency)

    def requires(self, scope: str):  # noqa: ANN201 - a FastAPI dependency
        """Dependency for a route: the caller must hold `scope` (or `admin`)."""
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope}")

        async def caller(principal: Principal = Depends(self._authenticate_dependency)) -> Principal:
            if not principal.allows(scope):
                raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this token lacks the scope {scope}")
            return principal

        return Depends(caller)
