"""HTTP entrypoints of the appreciation service: the ledger, the mail queue,
unsubscribe. Each route checks the request and calls one use case; no SQL here.
Nothing here publishes an event, so no HTTP write comes back through Kafka."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from services.appreciation import messages, usecases
from shared.service import ServiceRuntime
from shared.values import SafeId

PAGE = """<!doctype html><html lang="nl"><meta charset="utf-8"><title>dankjewel</title>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto">{body}</body></html>"""


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["appreciation"])
    can = runtime.auth.requires  # each data route names the scope a caller needs

    @router.get("/volunteers/{volunteer_id}/milestones", dependencies=[can("volunteers:read")])
    async def milestones(volunteer_id: SafeId) -> list[dict]:
        """The milestones in the ledger for one volunteer, oldest first."""
        return await usecases.milestones_of(runtime, volunteer_id)

    @router.get("/mails", dependencies=[can("mail:read")])
    async def mail_queue(status_filter: Literal["pending", "sent", "failed", "skipped"] | None = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """The mail queue (newest first): what was sent, is pending, failed or skipped, and why."""
        return await usecases.mail_queue(runtime, status_filter, limit)

    def volunteer_of(token: str) -> str:
        volunteer_id = messages.volunteer_of_token(runtime.settings, token)
        if volunteer_id is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="this unsubscribe link is not valid")
        return volunteer_id

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def confirm_unsubscribe(token: str) -> str:
        """A page with a button: a GET alone never unsubscribes (mail scanners follow links)."""
        volunteer_of(token)
        return PAGE.format(body=f"""<h1>Afmelden / Unsubscribe</h1>
<p>Wil je geen bedankjes en uitnodigingen meer per e-mail ontvangen?<br>
No more thank-you cards and invitations by email?</p>
<form method="post" action="{token}"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Afmelden / Unsubscribe</button></form>""")

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, list_unsubscribe: str | None = Form(default=None, alias="List-Unsubscribe")) -> str:
        """RFC 8058 one-click unsubscribe (body `List-Unsubscribe=One-Click`) and the form above."""
        await usecases.unsubscribe(runtime, volunteer_of(token))
        return PAGE.format(body="<h1>Afgemeld / Unsubscribed</h1><p>Je ontvangt geen bedankmails meer. "
                                "You will not receive appreciation mail any more.</p>")

    return router
