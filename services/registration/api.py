"""HTTP API of the registration service: volunteers, opportunities, applications, matches."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Header, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, field_validator
from typing_extensions import Annotated

from services.registration import domain, flyer, usecases
from services.registration.domain import Availability, Labels, Name, Slot
from shared.contracts import VolunteerRegistered
from shared.http import refusals
from shared.service import ServiceRuntime
from shared.values import LongText, SafeId, SaneDate, ShortText


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
    shift_reminder_consent: bool = Field(default=True, description="A reminder before each scheduled shift.")
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
    shift_reminder_consent: bool = None
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
    shift_reminder_consent: bool
    active: bool
    interests: list[str]
    skills: list[str]
    availability: Availability | None


# --- opportunities ------------------------------------------------------------------------


class Contact(BaseModel):
    name: Name
    email: EmailStr


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
        schedule = info.data.get("schedule")  # absent when the schedule itself was invalid
        wrong = domain.slot_kinds_not_allowed(schedule, (slot.kind for slot in when)) if schedule else []
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


def routes(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["registration"])
    can = runtime.auth.requires  # each data route names the scope a caller needs

    @router.post("/volunteers", status_code=status.HTTP_201_CREATED, dependencies=[can("volunteers:write")])
    async def register(body: VolunteerIn) -> VolunteerOut:
        """Register a volunteer and publish `volunteers.registered`."""
        registration = VolunteerRegistered(
            **body.model_dump(include=set(VolunteerRegistered.model_fields) - {"volunteer_id"}),
            volunteer_id=body.volunteer_id or str(uuid.uuid4()),
            registered_at=runtime.clock(),
        )
        with refusals():
            async with runtime.unit() as unit:
                row = await usecases.register(
                    unit, registration, named_in_group_messages_consent=body.named_in_group_messages_consent,
                    interests=body.interests, skills=body.skills,
                    availability=body.availability.model_dump(mode="json") if body.availability else None)
        return VolunteerOut(**row)

    @router.get("/volunteers/{volunteer_id}", dependencies=[can("volunteers:read")])
    async def get_volunteer(volunteer_id: SafeId) -> VolunteerOut:
        with refusals():
            async with runtime.sessions() as session:
                return VolunteerOut(**await usecases.volunteer(session, volunteer_id))

    @router.patch("/volunteers/{volunteer_id}", dependencies=[can("volunteers:write")])
    async def update_volunteer(volunteer_id: SafeId, body: VolunteerPatch) -> VolunteerOut:
        """Change some details; publishes `volunteers.updated` when a field it carries changed."""
        sent = body.model_dump(include=body.model_fields_set)
        if "availability" in sent and body.availability is not None:
            sent["availability"] = body.availability.model_dump(mode="json")  # as stored
        with refusals():
            async with runtime.unit() as unit:
                return VolunteerOut(**await usecases.update_volunteer(unit, volunteer_id, sent))

    @router.post("/opportunities", status_code=status.HTTP_201_CREATED, dependencies=[can("opportunities:write")])
    async def publish_opportunity(body: OpportunityIn) -> PublishedOpportunityOut:
        """Publish an opportunity; every fitting volunteer who agreed to mail gets an
        `opportunities.offered` event."""
        row = body.model_dump(mode="json", exclude={"contact", "open"}) | {
            "opportunity_id": body.opportunity_id or str(uuid.uuid4()),
            "contact_name": body.contact.name, "contact_email": body.contact.email, "is_open": body.open,
        }
        with refusals():
            async with runtime.unit() as unit:
                row, offered = await usecases.publish_opportunity(unit, row)
        return PublishedOpportunityOut(**OpportunityOut.from_row(row).model_dump(), offered_to=offered)

    @router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut,
                responses={200: {"content": {"text/html": {}}, "description": "JSON, or the flyer for text/html"}},
                dependencies=[can("opportunities:read")])
    async def get_opportunity(opportunity_id: SafeId, accept: Annotated[str | None, Header()] = None):  # noqa: ANN201
        """The opportunity as JSON, or as the flyer when the client prefers text/html."""
        with refusals():
            async with runtime.sessions() as session:
                row = await usecases.opportunity(session, opportunity_id)
        if flyer.prefers_html(accept):
            return HTMLResponse(flyer.render_flyer(row))
        return OpportunityOut.from_row(row)

    @router.get("/opportunities/{opportunity_id}/flyer", response_class=HTMLResponse, dependencies=[can("opportunities:read")])
    async def opportunity_flyer(opportunity_id: SafeId) -> HTMLResponse:
        """A readable page about the opportunity, to share or print."""
        with refusals():
            async with runtime.sessions() as session:
                return HTMLResponse(flyer.render_flyer(await usecases.opportunity(session, opportunity_id)))

    @router.patch("/opportunities/{opportunity_id}", dependencies=[can("opportunities:write")])
    async def open_or_close_opportunity(opportunity_id: SafeId, body: OpportunityPatch) -> OpportunityOut:
        """Close an opportunity (no more matches or applications) or open it again."""
        with refusals():
            async with runtime.unit() as unit:
                row = await usecases.open_or_close_opportunity(unit, opportunity_id, body.open)
        return OpportunityOut.from_row(row)

    @router.post("/volunteers/{volunteer_id}/applications", status_code=status.HTTP_201_CREATED, dependencies=[can("volunteers:write")])
    async def offer_help(volunteer_id: SafeId, body: ApplicationIn) -> ApplicationOut:
        """A volunteer offers help, for an opportunity or in general; publishes
        `help.offered`, which starts the follow-up clock. The opportunity's contact
        person is the one to follow up, else the volunteer's coordinator."""
        with refusals():
            async with runtime.unit() as unit:
                application = await usecases.offer_help(unit, volunteer_id, body.application_id or str(uuid.uuid4()),
                                                        body.opportunity_id)
        return ApplicationOut(**application)

    @router.delete("/volunteers/{volunteer_id}", status_code=status.HTTP_202_ACCEPTED, tags=["privacy"],
                   dependencies=[can("admin")])
    async def erase_volunteer(volunteer_id: SafeId) -> ErasureOut:
        """Erase the person (GDPR art. 17): registration forgets them now and publishes
        `volunteers.erased`, on which every other service erases what it holds. From then
        on, every service refuses new data for this id (410 Gone; events are ignored)."""
        async with runtime.unit() as unit:
            erased_at = await usecases.erase_on_request(unit, volunteer_id)
        return ErasureOut(volunteer_id=volunteer_id, erased_at=erased_at)

    @router.get("/volunteers/{volunteer_id}/matches", dependencies=[can("volunteers:read")])
    async def matches(volunteer_id: SafeId) -> list[MatchOut]:
        """Open opportunities that fit the volunteer, best first, each with the reasons why."""
        with refusals():
            async with runtime.sessions() as session:
                ranked = await usecases.matches(session, volunteer_id)
        return [MatchOut(opportunity_id=row["opportunity_id"], title=row["title"], score=fit.score,
                         reasons=list(fit.reasons)) for fit, row in ranked]

    return router
