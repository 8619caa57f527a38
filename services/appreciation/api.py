"""HTTP entrypoints of the appreciation service: the ledger, the mail queue,
unsubscribe, and the links of a shift reminder. Each route checks the request and
calls one use case; no SQL here. Only "I cannot come" publishes an event
(`shifts.declined`); its use case applies the effect here at once and recognises
the echo coming back through Kafka."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from services.appreciation import messages, usecases
from shared.service import ServiceRuntime
from shared.values import SafeId

# Opened from a mail, mostly on a phone: the viewport tag keeps the text readable there.
PAGE = """<!doctype html><html lang="nl"><meta charset="utf-8"><title>dankjewel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">{body}</body></html>"""



def confirm_page(heading: str, question: str, button: str, *, action: str = "", one_click: bool = True) -> str:
    """A page whose button does what a link in a mail offers: a GET alone changes
    nothing (mail scanners follow links). `one_click`: the form posts RFC 8058's field."""
    field = '<input type="hidden" name="List-Unsubscribe" value="One-Click">' if one_click else ""
    return PAGE.format(body=f"""<h1>{heading}</h1>
<p>{question}</p>
<form method="post" action="{action}">{field}
<button type="submit">{button}</button></form>""")


def done_page(heading: str, text: str) -> str:
    return PAGE.format(body=f"<h1>{heading}</h1><p>{text}</p>")


# "I cannot come" after the volunteer was taken off the shift, or once it has begun:
# nothing is published, and nothing of the request is shown back.
NO_LONGER_APPLIES = PAGE.format(body="""<h1>Deze link geldt niet meer / This link no longer applies</h1>
<p>Je staat niet (meer) op deze dienst, of de dienst is al begonnen. Neem bij vragen contact op met je
coördinator.<br>You are not on this shift (any more), or it has already begun. Please contact your coordinator
if you have questions.</p>""")


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
        volunteer_of(token)  # a valid token: Fernet's URL-safe alphabet, nothing to escape
        return confirm_page("Afmelden / Unsubscribe", "Wil je geen bedankjes en uitnodigingen meer per e-mail "
                            "ontvangen?<br>\nNo more thank-you cards and invitations by email?",
                            "Afmelden / Unsubscribe", action=token)

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str, list_unsubscribe: str | None = Form(default=None, alias="List-Unsubscribe")) -> str:
        """RFC 8058 one-click unsubscribe (body `List-Unsubscribe=One-Click`) and the form above."""
        await usecases.unsubscribe(runtime, volunteer_of(token))
        return done_page("Afgemeld / Unsubscribed", "Je ontvangt geen bedankmails meer. "
                                                    "You will not receive appreciation mail any more.")

    @router.get("/unsubscribe/{token}/shift-reminders", response_class=HTMLResponse)
    async def confirm_no_shift_reminders(token: str) -> str:
        volunteer_of(token)
        return confirm_page("Geen herinneringen / No reminders", "Wil je geen herinneringen aan je diensten meer "
                            "ontvangen? Bedankjes en uitnodigingen blijven komen.<br>\nNo more reminders of your "
                            "shifts? Thank-you mail and invitations still come.",
                            "Geen herinneringen meer / No more reminders")

    @router.post("/unsubscribe/{token}/shift-reminders", response_class=HTMLResponse)
    async def no_shift_reminders(token: str,
                                 list_unsubscribe: str | None = Form(default=None, alias="List-Unsubscribe")) -> str:
        """One-click (RFC 8058) from a shift reminder: no more shift reminders, other mail goes on."""
        await usecases.stop_shift_reminders(runtime, volunteer_of(token))
        return done_page("Uitgezet / Turned off", "Je ontvangt geen herinneringen aan je diensten meer. "
                                                  "You will not receive shift reminders any more.")

    def shift_of(token: str) -> tuple[str, str]:
        found = messages.shift_of_decline_token(runtime.settings, token)
        if found is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="this link is not valid")
        return found

    @router.get("/shifts/decline/{token}", response_class=HTMLResponse)
    async def confirm_decline(token: str) -> str:
        """A page with a button: a GET alone changes nothing (mail scanners follow links)."""
        shift_of(token)
        return confirm_page("Ik kan niet komen / I cannot come", "Kun je toch niet komen? Dan zoekt je coördinator "
                            "iemand anders voor deze dienst.<br>\nCan't make it after all? Your coordinator will "
                            "find someone else for this shift.", "Ik kan niet komen / I cannot come",
                            one_click=False)

    @router.post("/shifts/decline/{token}", response_class=HTMLResponse)
    async def decline(token: str) -> str:
        """Publishes `shifts.declined`: tasks takes the volunteer off the shift, the coordinator is alerted."""
        volunteer_id, shift_id = shift_of(token)
        if not await usecases.decline_shift(runtime, volunteer_id, shift_id):
            return NO_LONGER_APPLIES
        return done_page("Dank je wel / Thank you", "Fijn dat je het laat weten; we zoeken iemand anders. "
                                                    "Thank you for letting us know; we will find someone else.")

    return router
