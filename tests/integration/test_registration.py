"""Registration on the real broker and PostgreSQL: profiles, opportunities, flyers,
matches, offers, applications, updates and erasure.

Topics outlive a test and each test's consumer reads them from the start, so the
service may also hold volunteers from earlier tests: every check names its own ids."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import func, select

from services.registration.service import definition as registration
from services.registration.tables import applications, erasures, opportunities, volunteers
from tests.integration.conftest import api_client, equals, eventually, read_topic, structured

FIRST_THURSDAY_AFTERNOON = {"kind": "monthly", "week": "first", "weekday": "thursday", "parts_of_day": ["afternoon"]}


def client(runtime) -> httpx.AsyncClient:
    return api_client(runtime)


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def scalar(runtime, query):
    async with runtime.sessions() as session:
        return await session.scalar(query)


def an_opportunity(**fields) -> dict:
    return {"title": "Plattegronden tekenen", "tasks": ["draw floor plans for the repair café"],
            "minutes_per_occurrence": 150, "schedule": "recurring", "how_often": "once a month",
            "when": [{"kind": "monthly", "week": "first", "weekday": "thursday"}],
            "skills": ["technical drawing"], "interests": ["repair"],
            "guidance": "Ingrid works alongside you the first times", "onboarding_minutes": 60,
            "contact": {"name": "Ingrid Bakker", "email": "ingrid@example.org"}} | fields


async def register(http, volunteer_id: str, **fields) -> dict:
    response = await http.post("/volunteers", json={
        "volunteer_id": volunteer_id, "name": "Fatima El Amrani", "email": "fatima@example.org",
        "language": "en"} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def publish(http, **fields) -> dict:
    response = await http.post("/opportunities", json=an_opportunity(**fields))
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_mother_free_on_first_thursday_afternoons_finds_a_fitting_opportunity(start_service):
    runtime = await start_service(registration)
    mother = unique("mother")
    async with client(runtime) as http:
        await register(http, mother, skills=["Technical drawing"], interests=["sewing"],
                       availability={"slots": [FIRST_THURSDAY_AFTERNOON], "max_hours_per_month": 4})
        first_thursday = await publish(http, title="Repair café drawings")
        saturdays = await publish(http, title="Saturday market", when=[{"kind": "weekly", "weekdays": ["saturday"]}])
        in_the_morning = await publish(http, title="Morning drawings", when=[
            {"kind": "monthly", "week": "first", "weekday": "thursday", "parts_of_day": ["morning"]}])
        too_long = await publish(http, title="Long drawing days", minutes_per_occurrence=300)

        response = await http.get(f"/volunteers/{mother}/matches")
    assert response.status_code == 200, response.text
    found = response.json()
    assert [m["opportunity_id"] for m in found] == [first_thursday["opportunity_id"]]
    assert found[0]["reasons"] == ["uses your skill: Technical drawing",
                                   "fits: first Thursday of the month, afternoon",
                                   "within your maximum of 4 hours a month"]
    assert {saturdays["opportunity_id"], in_the_morning["opportunity_id"], too_long["opportunity_id"]}.isdisjoint(
        m["opportunity_id"] for m in found)


async def test_a_hospice_flyer_shows_guidance_and_onboarding_time_and_escapes_the_title(start_service):
    runtime = await start_service(registration)
    async with client(runtime) as http:
        hospice = await publish(
            http, title="Hospice <script>alert('x')</script> evenings", organisation="Hospice De Linde",
            tasks=["Koffie schenken", "Een luisterend oor bieden"], minutes_per_occurrence=180,
            when=[{"kind": "weekly", "weekdays": ["wednesday"], "parts_of_day": ["evening"]}],
            guidance="Een verpleegkundige is altijd aanwezig; maandelijks intervisie",
            onboarding_minutes=480, skills=[], interests=["zorg"])
        opportunity_id = hospice["opportunity_id"]
        as_browser = await http.get(f"/opportunities/{opportunity_id}",
                                    headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        flyer = await http.get(f"/opportunities/{opportunity_id}/flyer")
        as_json = await http.get(f"/opportunities/{opportunity_id}", headers={"accept": "application/json"})
        missing = await http.get("/opportunities/nobody-published-this/flyer")

    for page in (as_browser, flyer):
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "Een verpleegkundige is altijd aanwezig; maandelijks intervisie" in page.text
        assert "Inwerktijd: <strong>8 uur</strong>" in page.text
        assert "elke woensdag, avond" in page.text and "Koffie schenken" in page.text
        assert "Hospice &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; evenings" in page.text
        assert "<script>" not in page.text
    assert as_json.json()["title"] == "Hospice <script>alert('x')</script> evenings"
    assert as_json.json()["onboarding_minutes"] == 480
    assert missing.status_code == 404


async def test_a_new_opportunity_is_offered_to_fitting_volunteers_who_agreed_to_mail(start_service, infra):
    runtime = await start_service(registration)
    agreed, declined, unfit = unique("agreed"), unique("declined"), unique("unfit")
    async with client(runtime) as http:
        for volunteer, consent, skills in ((agreed, True, ["technical drawing"]),
                                           (declined, False, ["technical drawing"]),
                                           (unfit, True, ["baking"])):
            await register(http, volunteer, skills=skills, appreciation_mail_consent=consent,
                           availability={"slots": [FIRST_THURSDAY_AFTERNOON]})
        published = await publish(http)
    assert published["offered_to"] >= 1

    offered = await read_topic(infra.kafka_bootstrap, "opportunities.offered", agreed.encode())
    assert len(offered) == 1
    data = json.loads(offered[0].value)["data"]
    assert (data["opportunity_id"], data["title"]) == (published["opportunity_id"], "Plattegronden tekenen")
    assert data["reasons"] == ["uses your skill: technical drawing", "fits: first Thursday of the month, afternoon"]
    for left_out in (declined, unfit):
        assert await read_topic(infra.kafka_bootstrap, "opportunities.offered", left_out.encode(), expect=0) == []


async def test_an_application_offers_help_on_kafka(start_service, infra):
    runtime = await start_service(registration)
    volunteer = unique("applicant")
    async with client(runtime) as http:
        await register(http, volunteer, coordinator_email="coordinator@example.org")
        opportunity = await publish(http)
        for_opportunity = await http.post(f"/volunteers/{volunteer}/applications",
                                          json={"opportunity_id": opportunity["opportunity_id"]})
        in_general = await http.post(f"/volunteers/{volunteer}/applications", json={})
        again = await http.post(f"/volunteers/{volunteer}/applications",
                                json={"opportunity_id": opportunity["opportunity_id"]})
        unknown_volunteer = await http.post("/volunteers/nobody/applications", json={})
        unknown_opportunity = await http.post(f"/volunteers/{volunteer}/applications",
                                              json={"opportunity_id": "no-such-opportunity"})
    assert (for_opportunity.status_code, in_general.status_code, again.status_code) == (201, 201, 409)
    assert (unknown_volunteer.status_code, unknown_opportunity.status_code) == (404, 404)

    offered = await read_topic(infra.kafka_bootstrap, "help.offered", volunteer.encode(), expect=2)
    by_application = {json.loads(r.value)["data"]["application_id"]: json.loads(r.value)["data"] for r in offered}
    assert set(by_application) == {for_opportunity.json()["application_id"], in_general.json()["application_id"]}
    specific = by_application[for_opportunity.json()["application_id"]]
    general = by_application[in_general.json()["application_id"]]
    assert (specific["opportunity_id"], specific["opportunity_title"], specific["coordinator_email"]) == (
        opportunity["opportunity_id"], "Plattegronden tekenen", "ingrid@example.org")
    assert (general["opportunity_id"], general["coordinator_email"]) == (None, "coordinator@example.org")


async def test_a_change_publishes_volunteers_updated(start_service, infra):
    runtime = await start_service(registration)
    volunteer = unique("mover")
    async with client(runtime) as http:
        await register(http, volunteer)
        changed = await http.patch(f"/volunteers/{volunteer}", json={
            "email": "fatima.new@example.org", "appreciation_mail_consent": False, "skills": ["sewing"]})
        unchanged = await http.patch(f"/volunteers/{volunteer}", json={"email": "fatima.new@example.org"})
        only_own_fields = await http.patch(f"/volunteers/{volunteer}", json={"interests": ["gardening"]})
        unknown = await http.patch("/volunteers/nobody", json={"active": False})
        blanked = await http.patch(f"/volunteers/{volunteer}", json={"name": None})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["email"], changed.json()["skills"]) == ("fatima.new@example.org", ["sewing"])
    assert (unchanged.status_code, only_own_fields.status_code, unknown.status_code, blanked.status_code) == (
        200, 200, 404, 422)

    # one event: the unchanged email and registration's own fields publish nothing
    updates = await read_topic(infra.kafka_bootstrap, "volunteers.updated", volunteer.encode())
    assert len(updates) == 1
    data = json.loads(updates[0].value)["data"]
    assert (data["email"], data["appreciation_mail_consent"], data["name"]) == ("fatima.new@example.org", False, None)


async def test_shift_reminder_consent_is_its_own_and_is_published(start_service, infra):
    runtime = await start_service(registration)
    volunteer = unique("reminded")
    async with client(runtime) as http:
        registered = await register(http, volunteer, shift_reminder_consent=False)
        assert (registered["shift_reminder_consent"], registered["appreciation_mail_consent"]) == (False, True)
        turned_on = await http.patch(f"/volunteers/{volunteer}", json={"shift_reminder_consent": True})
        assert turned_on.json()["shift_reminder_consent"] is True
        assert (await http.get(f"/volunteers/{volunteer}")).json()["shift_reminder_consent"] is True
        # Sent again unchanged (the volunteer turned reminders off in appreciation, through
        # the link in a reminder, and asks for them back): published all the same.
        again = await http.patch(f"/volunteers/{volunteer}", json={"shift_reminder_consent": True, "skills": []})
        assert again.status_code == 200, again.text

    registrations = await read_topic(infra.kafka_bootstrap, "volunteers.registered", volunteer.encode())
    assert json.loads(registrations[0].value)["data"]["shift_reminder_consent"] is False
    updates = await read_topic(infra.kafka_bootstrap, "volunteers.updated", volunteer.encode(), expect=2)
    assert len(updates) == 2
    for update in updates:
        data = json.loads(update.value)["data"]
        assert (data["shift_reminder_consent"], data["appreciation_mail_consent"]) == (True, None)


async def test_erasure_removes_the_volunteers_personal_data(start_service, producer):
    runtime = await start_service(registration)
    erased, kept = unique("erased"), unique("kept")
    async with client(runtime) as http:
        for volunteer in (erased, kept):
            await register(http, volunteer, interests=["birds"], availability={"slots": [FIRST_THURSDAY_AFTERNOON]})
            assert (await http.post(f"/volunteers/{volunteer}/applications", json={})).status_code == 201

    requested_at = datetime.now(timezone.utc)
    value, headers = structured("dankjewel.volunteer.erased.v1", {
        "volunteer_id": erased, "requested_at": requested_at.isoformat()})
    await producer.send_and_wait("volunteers.erased", value, key=erased.encode(), headers=headers)

    await eventually(lambda: scalar(runtime, select(erasures.c.erased_at).where(erasures.c.volunteer_id == erased)))
    assert await scalar(runtime, select(func.count()).select_from(volunteers)
                        .where(volunteers.c.volunteer_id == erased)) == 0
    assert await scalar(runtime, select(func.count()).select_from(applications)
                        .where(applications.c.volunteer_id == erased)) == 0
    async with client(runtime) as http:
        assert (await http.get(f"/volunteers/{erased}")).status_code == 410  # gone, and not to come back
        assert (await http.get(f"/volunteers/{kept}")).status_code == 200

    # a registration from before the erasure that arrives late does not bring the data back
    late_id = str(uuid.uuid4())
    value, headers = structured("dankjewel.volunteer.registered.v1", {
        "volunteer_id": erased, "name": "Fatima El Amrani", "email": "fatima@example.org", "language": "en",
        "registered_at": (requested_at - timedelta(days=30)).isoformat()}, event_id=late_id)
    await producer.send_and_wait("volunteers.registered", value, key=erased.encode(), headers=headers)
    inbox = registration.tables.inbox
    await eventually(lambda: scalar(runtime, select(inbox.c.event_id).where(inbox.c.event_id == late_id)))
    assert await scalar(runtime, select(func.count()).select_from(volunteers)
                        .where(volunteers.c.volunteer_id == erased)) == 0


async def test_invalid_input_gets_a_reason_per_field_and_writes_nothing(start_service):
    runtime = await start_service(registration)
    volunteer = unique("invalid")
    async with client(runtime) as http:
        bad_volunteer = await http.post("/volunteers", json={
            "volunteer_id": volunteer, "name": "   ", "email": "fatima@", "language": "en",
            "skills": "drawing", "availability": {"slots": [{"kind": "monthly", "week": "fifth",
                                                             "weekday": "thursday"}]}})
        bad_opportunity = await http.post("/opportunities", json=an_opportunity(
            opportunity_id="bad-opportunity", title="", tasks=[], minutes_per_occurrence=0, schedule="one-off",
            guidance="", contact={"name": "Ingrid"}))
        await register(http, volunteer)
        duplicate_volunteer = await http.post("/volunteers", json={
            "volunteer_id": volunteer, "name": "Someone Else", "email": "else@example.org"})
        await publish(http, opportunity_id=f"{volunteer}-opportunity")
        duplicate_opportunity = await http.post("/opportunities", json=an_opportunity(
            opportunity_id=f"{volunteer}-opportunity"))
        unknown = await http.get("/volunteers/nobody/matches")

    assert bad_volunteer.status_code == 422
    assert {tuple(p["loc"][:3]) for p in bad_volunteer.json()["detail"]} == {
        ("body", "name"), ("body", "email"), ("body", "skills"), ("body", "availability", "slots")}
    assert bad_opportunity.status_code == 422
    assert {tuple(p["loc"][:3]) for p in bad_opportunity.json()["detail"]} == {
        ("body", "title"), ("body", "tasks"), ("body", "minutes_per_occurrence"), ("body", "when"),
        ("body", "guidance"), ("body", "contact", "email")}
    assert all(p["msg"] for p in bad_opportunity.json()["detail"])
    assert (duplicate_volunteer.status_code, duplicate_opportunity.status_code, unknown.status_code) == (
        409, 409, 404)

    # the refused writes left nothing behind: the first registration stands unchanged
    async with client(runtime) as http:
        assert (await http.get(f"/volunteers/{volunteer}")).json()["name"] == "Fatima El Amrani"
    assert await scalar(runtime, select(func.count()).select_from(opportunities).where(
        opportunities.c.opportunity_id == "bad-opportunity")) == 0


async def test_the_api_alone_leaves_the_state_and_its_own_events_coming_back_change_nothing(start_service):
    # The HTTP use cases apply what they publish; the echo through Kafka is recognised.
    # First without a consumer: no echo can help.
    api_only = await start_service(registration, parts={"consume": False})
    kept, erased = unique("kept"), unique("erased")
    async with client(api_only) as http:
        await register(http, kept, interests=["birds"], availability={"slots": [FIRST_THURSDAY_AFTERNOON]})
        assert (await http.patch(f"/volunteers/{kept}", json={"name": "Fatima E."})).status_code == 200
        assert (await http.post(f"/volunteers/{kept}/applications", json={})).status_code == 201
        await register(http, erased)
        outbox = registration.tables.outbox  # published before the erasure, which would drop it
        await eventually(lambda: equals(scalar(api_only, select(func.count()).select_from(outbox)), 0))
        assert (await http.delete(f"/volunteers/{erased}")).status_code == 202

    async def state() -> tuple:
        async with client(api_only) as http:
            shown = (await http.get(f"/volunteers/{kept}")).json()
            gone = (await http.get(f"/volunteers/{erased}")).status_code
        return ((shown["name"], shown["interests"], shown["availability"]["slots"]), gone,
                await scalar(api_only, select(func.count()).select_from(applications)
                             .where(applications.c.volunteer_id == kept)),
                await scalar(api_only, select(erasures.c.erased_at).where(erasures.c.volunteer_id == erased)))

    after_api = await state()
    assert after_api[:3] == (("Fatima E.", ["birds"], [FIRST_THURSDAY_AFTERNOON]), 410, 1)
    assert after_api[3] is not None

    # Then the echo: a consumer reads the three events the API published and consumes.
    await start_service(registration)
    inbox = registration.tables.inbox
    await eventually(lambda: equals(scalar(api_only, select(func.count()).select_from(inbox)
                                           .where(inbox.c.source == "registration")), 3))
    assert await state() == after_api
