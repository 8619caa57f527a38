"""HTTP API of the appreciation service: the ledger, the mail queue, unsubscribe."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select, update

from services.appreciation import messages
from services.appreciation.tables import ledger, mails, volunteers
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
        async with runtime.sessions() as session:
            rows = await session.execute(
                select(ledger).where(ledger.c.volunteer_id == volunteer_id).order_by(ledger.c.reached_on))
            return [{"milestone": r.milestone, "reached_on": r.reached_on.isoformat(), "celebrated": r.celebrated}
                    for r in rows]

    @router.get("/mails", dependencies=[can("mail:read")])
    async def mail_queue(status_filter: Literal["pending", "sent", "failed", "skipped"] | None = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
        """The mail queue (newest first): what was sent, is pending, failed or skipped, and why."""
        query = select(mails.c.id, mails.c.volunteer_id, mails.c.occasion, mails.c.notification, mails.c.audience,
                       mails.c.status, mails.c.attempts, mails.c.last_error, mails.c.created_at, mails.c.sent_at)
        if status_filter:
            query = query.where(mails.c.status == status_filter)
        async with runtime.sessions() as session:
            rows = await session.execute(query.order_by(mails.c.id.desc()).limit(limit))
            return [dict(row._mapping) for row in rows]

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
        volunteer_id = volunteer_of(token)
        async with runtime.unit() as unit:
            await unit.session.execute(update(volunteers).where(
                volunteers.c.volunteer_id == volunteer_id, volunteers.c.unsubscribed_at.is_(None)).values(
                unsubscribed_at=unit.now))
            await unit.session.execute(update(mails).where(
                mails.c.volunteer_id == volunteer_id, mails.c.audience == "volunteer",
                mails.c.status == "pending").values(status="skipped", last_error="unsubscribed"))
        return PAGE.format(body="<h1>Afgemeld / Unsubscribed</h1><p>Je ontvangt geen bedankmails meer. "
                                "You will not receive appreciation mail any more.</p>")

    return router
