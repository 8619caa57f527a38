"""HTTP API of the registration service: volunteers, opportunities, applications, matches."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator
from sqlalchemy import select, update
from typing_extensions import Annotated

from services.registration import domain, flyer, handlers
from services.registration.domain import Availability, Labels, Name, Slot
from services.registration.tables import applications, opportunities, volunteers
from shared.contracts import (
    HELP_OFFERED,
    OPPORTUNITY_OFFERED,
    VOLUNTEER_REGISTERED,
    VOLUNTEER_ERASED,
    VOLUNTEER_UPDATED,
    HelpOffered,
    OpportunityOffered,
    VolunteerRegistered,
    VolunteerErased,
    VolunteerUpdated,
)
from shared.db import insert_if_absent
from shared.delivery import Unit
from shared.http import erased_volunteer
from shared.service import ServiceRuntime
from shared.values import LongText, SafeId, SaneDate, ShortText

log = logging.getLogger(__name__)


# --- volunteers ---------------------------------------------------------------------------


class VolunteerIn(BaseModel):
    volunteer_id: SafeId | None = None
    name: Name
    email: EmailStr
    language: Literal["nl", "en"] = "nl"
    service_started_on: SaneDate | None = Field(default=None, description="For people active before dankjewel.")
    coordinator_email: EmailStr | None = None
    appreciation_mail_consent: bool = Field(default=True, description="Thank-you mail and opportunity suggestions.")
    named_in_group_messages_consent: bool = Field(default=False, description="May be named in group messages.")
    interests: Labels = []
    skills: Labels = []
    availability: Availability | None = None


class VolunteerPatch(BaseModel):
    """Only the fields sent change. `null` clears the fields that may be empty."""

    model_config = ConfigDict(extra="forbid")

    # Defaults of None are never validated, so these are "left out" but cannot be sent as null.
    name: Name = None
    email: EmailStr = None
    language: Literal["nl", "en"] = None
    service_started_on: SaneDate | None = None
    coordinator_email: EmailStr | None = None
    appreciation_mail_consent: bool = None
    named_in_group_messages_consent: bool = None
    active: bool = None
    interests: Labels = None
    skills: Labels = None
    availability: Availability | None = None


class VolunteerOut(BaseModel):
    volunteer_id: str
    name: str
    email: str
    language: str
    registered_at: datetime
    service_started_on: date | None
    coordinator_email: str | None
    appreciation_mail_consent: bool
    named_in_group_messages_consent: bool
    active: bool
    interests: list[str]
    skills: list[str]
    availability: Availability | None


# VolunteerUpdated carries these; the others (interests, availability, …) are registration's own.
_PUBLISHED_FIELDS = ("name", "email", "language", "coordinator_email", "appreciation_mail_consent", "active")

# --- opportunities ------------------------------------------------------------------------


class Contact(BaseModel):
    name: Name
    email: EmailStr


_SLOTS_BY_SCHEDULE = {"one-off": {"one-off"}, "recurring": {"weekly", "monthly"}, "on-call": {"on-call"},
                      "short-project": {"weekly", "monthly", "one-off"}}


class OpportunityIn(BaseModel):
    opportunity_id: SafeId | None = None
    organisation: Name | None = None
    title: Name
    summary: LongText | None = None
    tasks: Annotated[Labels, Field(min_length=1)]
    minutes_per_occurrence: int = Field(ge=5, le=24 * 60, description="Time per occurrence, in minutes.")
    how_often: ShortText | None = Field(default=None, examples=["elke eerste donderdag van de maand"])
    schedule: Literal["one-off", "recurring", "on-call", "short-project"]
    when: list[Slot] = Field(default_factory=list, max_length=20,
                             description="When it takes place, in the availability vocabulary.")
    skills: Labels = []
    interests: Labels = []
    guidance: LongText = Field(description="What guidance is offered.")
    onboarding_minutes: int = Field(ge=0, le=100 * 60, description="Time it takes to be onboarded.")
    contact: Contact
    open: bool = True

    @field_validator("when")
    @classmethod
    def _when_suits_schedule(cls, when: list[Slot], info: ValidationInfo) -> list[Slot]:
        schedule = info.data.get("schedule")
        allowed = _SLOTS_BY_SCHEDULE.get(schedule, set())
        wrong = sorted({slot.kind for slot in when} - allowed) if schedule else []
        if wrong:
            raise ValueError(f"a {schedule} opportunity cannot take place {', '.join(wrong)}")
        return when


class OpportunityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    open: bool


class OpportunityOut(BaseModel):
    opportunity_id: str
    organisation: str | None
    title: str
    summary: str | None
    tasks: list[str]
    minutes_per_occurrence: int
    how_often: str | None
    schedule: str
    when: list[Slot]
    skills: list[str]
    interests: list[str]
    guidance: str
    onboarding_minutes: int
    contact: Contact
    open: bool
    published_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> "OpportunityOut":
        return cls(**row, contact=Contact(name=row["contact_name"], email=row["contact_email"]), open=row["is_open"])


class PublishedOpportunityOut(OpportunityOut):
    offered_to: int = Field(description="Volunteers told about it (fitting, consenting, active).")


# --- applications and matches -------------------------------------------------------------


class ApplicationIn(BaseModel):
    application_id: SafeId | None = None
    opportunity_id: SafeId | None = Field(default=None, description="Leave out to offer help in general.")


class ApplicationOut(BaseModel):
    application_id: str
    volunteer_id: str
    opportunity_id: str | None
    offered_at: datetime


class MatchOut(BaseModel):
    opportunity_id: str
    title: str
    score: int
    reasons: list[str]


class ErasureOut(BaseModel):
    volunteer_id: str
    erased_at: datetime
    note: str = "erased here; the other services erase on volunteers.erased"


def _volunteer_profile(row) -> domain.VolunteerProfile:  # noqa: ANN001 - a row or mapping
    return domain.VolunteerProfile(interests=row["interests"], skills=row["skills"], language=row["language"],
                                   availability=domain.availability_from_json(row["availability"]))


def _opportunity_profile(row) -> domain.OpportunityProfile:  # noqa: ANN001
    return domain.OpportunityProfile(
        interests=row["interests"], skills=row["skills"], minutes_per_occurrence=row["minutes_per_occurrence"],
        when=domain.opportunity_times(row["schedule"], domain.slots_from_json(row["when"])))


async def _offer_to_fitting_volunteers(unit: Unit, opportunity: dict) -> int:
    """One `opportunities.offered` per active volunteer who agreed to mail and fits well
    enough; in the publishing transaction, so an offer exists only if the opportunity does."""
    candidates = await unit.session.execute(
        select(volunteers.c.volunteer_id, volunteers.c.language, volunteers.c.interests, volunteers.c.skills,
               volunteers.c.availability)
        .where(volunteers.c.appreciation_mail_consent.is_(True), volunteers.c.active.is_(True)))
    profile = _opportunity_profile(opportunity)
    offered = 0
    for candidate in candidates.mappings():
        fit = domain.match(_volunteer_profile(candidate), profile)
        if not fit.worth_offering:
            continue
        await unit.emit(OPPORTUNITY_OFFERED, OpportunityOffered(
            volunteer_id=candidate["volunteer_id"], opportunity_id=opportunity["opportunity_id"],
            title=opportunity["title"], reasons=list(fit.reasons[:20]),
        ), event_id=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                   f"opportunity-offered/{opportunity['opportunity_id']}/{candidate['volunteer_id']}")))
        offered += 1
    return offered


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["registration"])
    can = runtime.auth.requires  # each data route names the scope a caller needs

    async def volunteer_row(session, volunteer_id: str, *, for_update: bool = False) -> dict:  # noqa: ANN001
        query = select(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
        row = (await session.execute(query.with_for_update() if for_update else query)).mappings().first()
        if row is None:
            if await handlers.erased_since(session, volunteer_id) is not None:
                raise erased_volunteer()
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such volunteer")
        return dict(row)

    async def opportunity_row(session, opportunity_id: str) -> dict:  # noqa: ANN001
        row = (await session.execute(select(opportunities).where(
            opportunities.c.opportunity_id == opportunity_id))).mappings().first()
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such opportunity")
        return dict(row)

    @router.post("/volunteers", status_code=status.HTTP_201_CREATED, dependencies=[can("volunteers:write")])
    async def register(body: VolunteerIn) -> VolunteerOut:
        """Register a volunteer and publish `volunteers.registered`."""
        event = VolunteerRegistered(
            **body.model_dump(include=set(VolunteerRegistered.model_fields) - {"volunteer_id"}),
            volunteer_id=body.volunteer_id or str(uuid.uuid4()),
            registered_at=runtime.clock(),
        )
        row = event.model_dump(exclude={"volunteer_id"}) | {
            "volunteer_id": event.volunteer_id, "registered_via": runtime.name,
            "named_in_group_messages_consent": body.named_in_group_messages_consent, "active": True,
            "interests": body.interests, "skills": body.skills,
            "availability": body.availability.model_dump(mode="json") if body.availability else None,
        }
        async with runtime.unit() as unit:
            if await handlers.erased_since(unit.session, event.volunteer_id) is not None:
                raise erased_volunteer()
            if not await insert_if_absent(unit.session, volunteers, row):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="a volunteer with this id is already registered")
            await unit.emit(VOLUNTEER_REGISTERED, event)
        log.info("volunteer %s registered", event.volunteer_id)
        return VolunteerOut(**row)

    @router.get("/volunteers/{volunteer_id}", dependencies=[can("volunteers:read")])
    async def get_volunteer(volunteer_id: SafeId) -> VolunteerOut:
        async with runtime.sessions() as session:
            return VolunteerOut(**await volunteer_row(session, volunteer_id))

    @router.patch("/volunteers/{volunteer_id}", dependencies=[can("volunteers:write")])
    async def update_volunteer(volunteer_id: SafeId, body: VolunteerPatch) -> VolunteerOut:
        """Change some details; publishes `volunteers.updated` when a field it carries changed."""
        sent = body.model_dump(include=body.model_fields_set)
        if "availability" in sent and body.availability is not None:
            sent["availability"] = body.availability.model_dump(mode="json")  # as stored
        async with runtime.unit() as unit:
            current = await volunteer_row(unit.session, volunteer_id, for_update=True)
            changes = {field: value for field, value in sent.items() if current[field] != value}
            if changes:
                await unit.session.execute(update(volunteers).where(volunteers.c.volunteer_id == volunteer_id)
                                           .values(**changes, updated_at=unit.now))
                published = {field: value for field, value in changes.items()
                             if field in _PUBLISHED_FIELDS and value is not None}
                if published:
                    await unit.emit(VOLUNTEER_UPDATED, VolunteerUpdated(
                        volunteer_id=volunteer_id, updated_at=unit.now, **published))
        log.info("volunteer %s updated (%s)", volunteer_id, ", ".join(sorted(changes)) or "nothing changed")
        return VolunteerOut(**current | changes)

    @router.post("/opportunities", status_code=status.HTTP_201_CREATED, dependencies=[can("opportunities:write")])
    async def publish_opportunity(body: OpportunityIn) -> PublishedOpportunityOut:
        """Publish an opportunity; every fitting volunteer who agreed to mail gets an
        `opportunities.offered` event."""
        row = body.model_dump(mode="json", exclude={"contact", "open"}) | {
            "opportunity_id": body.opportunity_id or str(uuid.uuid4()),
            "contact_name": body.contact.name, "contact_email": body.contact.email, "is_open": body.open,
        }
        async with runtime.unit() as unit:
            row["published_at"] = unit.now
            if not await insert_if_absent(unit.session, opportunities, row):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="an opportunity with this id exists")
            offered = await _offer_to_fitting_volunteers(unit, row) if body.open else 0
        log.info("opportunity %s published, offered to %d volunteers", row["opportunity_id"], offered)
        return PublishedOpportunityOut(**OpportunityOut.from_row(row).model_dump(), offered_to=offered)

    @router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut,
                responses={200: {"content": {"text/html": {}}, "description": "JSON, or the flyer for text/html"}},
                dependencies=[can("opportunities:read")])
    async def get_opportunity(opportunity_id: SafeId, accept: Annotated[str | None, Header()] = None):  # noqa: ANN201
        """The opportunity as JSON, or as the flyer when the client prefers text/html."""
        async with runtime.sessions() as session:
            row = await opportunity_row(session, opportunity_id)
        if flyer.prefers_html(accept):
            return HTMLResponse(flyer.render_flyer(row))
        return OpportunityOut.from_row(row)

    @router.get("/opportunities/{opportunity_id}/flyer", response_class=HTMLResponse, dependencies=[can("opportunities:read")])
    async def opportunity_flyer(opportunity_id: SafeId) -> HTMLResponse:
        """A readable page about the opportunity, to share or print."""
        async with runtime.sessions() as session:
            return HTMLResponse(flyer.render_flyer(await opportunity_row(session, opportunity_id)))

    @router.patch("/opportunities/{opportunity_id}", dependencies=[can("opportunities:write")])
    async def open_or_close_opportunity(opportunity_id: SafeId, body: OpportunityPatch) -> OpportunityOut:
        """Close an opportunity (no more matches or applications) or open it again."""
        async with runtime.unit() as unit:
            row = await opportunity_row(unit.session, opportunity_id)
            await unit.session.execute(update(opportunities).where(opportunities.c.opportunity_id == opportunity_id)
                                       .values(is_open=body.open))
        return OpportunityOut.from_row(row | {"is_open": body.open})

    @router.post("/volunteers/{volunteer_id}/applications", status_code=status.HTTP_201_CREATED, dependencies=[can("volunteers:write")])
    async def offer_help(volunteer_id: SafeId, body: ApplicationIn) -> ApplicationOut:
        """A volunteer offers help, for an opportunity or in general; publishes
        `help.offered`, which starts the follow-up clock. The opportunity's contact
        person is the one to follow up, else the volunteer's coordinator."""
        application_id = body.application_id or str(uuid.uuid4())
        async with runtime.unit() as unit:
            volunteer = await volunteer_row(unit.session, volunteer_id)
            opportunity = None
            if body.opportunity_id is not None:
                opportunity = await opportunity_row(unit.session, body.opportunity_id)
                if not opportunity["is_open"]:
                    raise HTTPException(status.HTTP_409_CONFLICT, detail="the opportunity is closed")
                if await unit.session.scalar(select(applications.c.application_id).where(
                        applications.c.volunteer_id == volunteer_id,
                        applications.c.opportunity_id == body.opportunity_id)):
                    raise HTTPException(status.HTTP_409_CONFLICT,
                                        detail="the volunteer already offered help for this opportunity")
            application = dict(application_id=application_id, volunteer_id=volunteer_id,
                               opportunity_id=body.opportunity_id, offered_at=unit.now)
            if not await insert_if_absent(unit.session, applications, application):
                raise HTTPException(status.HTTP_409_CONFLICT, detail="an application with this id exists")
            await unit.emit(HELP_OFFERED, HelpOffered(
                volunteer_id=volunteer_id, application_id=application_id, offered_at=unit.now,
                opportunity_id=body.opportunity_id,
                opportunity_title=opportunity["title"] if opportunity else None,
                coordinator_email=opportunity["contact_email"] if opportunity else volunteer["coordinator_email"],
            ))
        log.info("volunteer %s offered help (application %s)", volunteer_id, application_id)
        return ApplicationOut(**application)

    @router.delete("/volunteers/{volunteer_id}", status_code=status.HTTP_202_ACCEPTED, tags=["privacy"],
                   dependencies=[can("admin")])
    async def erase_volunteer(volunteer_id: SafeId) -> ErasureOut:
        """Erase the person (GDPR art. 17): registration forgets them now and publishes
        `volunteers.erased`, on which every other service erases what it holds. From then
        on, every service refuses new data for this id (410 Gone; events are ignored)."""
        async with runtime.unit() as unit:
            await handlers.erase(unit, volunteer_id, unit.now)
            await unit.emit(VOLUNTEER_ERASED, VolunteerErased(volunteer_id=volunteer_id, requested_at=unit.now))
        return ErasureOut(volunteer_id=volunteer_id, erased_at=unit.now)

    @router.get("/volunteers/{volunteer_id}/matches", dependencies=[can("volunteers:read")])
    async def matches(volunteer_id: SafeId) -> list[MatchOut]:
        """Open opportunities that fit the volunteer, best first, each with the reasons why."""
        async with runtime.sessions() as session:
            volunteer = _volunteer_profile(await volunteer_row(session, volunteer_id))
            rows = (await session.execute(select(opportunities).where(opportunities.c.is_open.is_(True)))).mappings()
            found = [(domain.match(volunteer, _opportunity_profile(row)), row) for row in rows]
        ranked = sorted(((fit, row) for fit, row in found if fit.score > 0),
                        key=lambda pair: (-pair[0].score, pair[1]["title"].casefold()))
        return [MatchOut(opportunity_id=row["opportunity_id"], title=row["title"], score=fit.score,
                         reasons=list(fit.reasons)) for fit, row in ranked]

    return router
