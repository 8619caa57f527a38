"""What every service's HTTP API does before a route runs: refuse unknown Host
headers and oversized bodies, and answer invalid input with the field and the
problem, never with the input itself (it may be personal data, or 30 MB)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.refusals import Conflict, Erased, Invalid, NotFound
from shared.settings import Settings
from shared.tracing import TraceContextMiddleware

MAX_PROBLEMS = 20


def erased_volunteer() -> HTTPException:
    """The answer of every service to new data for an erased person's id (GDPR)."""
    return HTTPException(410, detail="this volunteer was erased; nothing more is kept or accepted for the id")


@contextmanager
def refusals() -> Iterator[None]:
    """A use case's refusal as the HTTP answer (raised inside the transaction: it rolls back)."""
    try:
        yield
    except NotFound as error:
        raise HTTPException(404, detail=str(error)) from None
    except Conflict as error:
        raise HTTPException(409, detail=str(error)) from None
    except Invalid as error:
        raise HTTPException(422, detail=str(error)) from None
    except Erased:
        raise erased_volunteer() from None


class BodySizeLimit:
    """413 for a body over `max_bytes`: at once when Content-Length says so, else as
    soon as the bytes received pass the limit (chunked uploads), before a route parses it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await JSONResponse({"detail": "invalid Content-Length"}, 400)(scope, receive, send)
            if int(declared) > self.max_bytes:
                return await self._too_large()(scope, receive, send)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body parsing: FastAPI answers it as it is.
                    raise HTTPException(413, detail=self._detail())
            return message

        await self.app(scope, counted, send)

    def _detail(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": self._detail()}, 413,
                            headers={"Connection": "close"})


def _location(loc: tuple) -> list:
    # A location can hold a key the caller chose (an unknown field): keep it short.
    return [part if isinstance(part, int) else str(part)[:50] for part in loc]


async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each field and its problem, without the `input` pydantic would echo."""
    problems = [{"loc": _location(e["loc"]), "msg": str(e["msg"])[:200], "type": e["type"]}
                for e in error.errors()[:MAX_PROBLEMS]]
    return JSONResponse({"detail": problems}, 422)


def harden(app: FastAPI, settings: Settings) -> FastAPI:
    """Install the checks on an app (each service's, and the one `run all` mounts them in)."""
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_middleware(BodySizeLimit, max_bytes=settings.http_max_body_bytes)
    hosts = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts or ["localhost"])
    app.add_middleware(TraceContextMiddleware)  # outermost: even a refused request has its trace
    return app
