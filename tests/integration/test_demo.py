"""`dankjewel demo` against running services: the stories become the four mails."""

from email import message_from_bytes, policy

from sqlalchemy import select

from services.cli import _demo
from services.demo import mails_in_folder
from services.console.tables import alerts, volunteers
from services.registry import all_services
from shared.mailcatcher import start_mail_catcher
from tests.integration.conftest import eventually


async def test_demo_publishes_the_stories_and_the_mails_arrive(start_service, settings, tmp_path, unused_tcp_port,
                                                               capsys):
    settings = settings.model_copy(update={"smtp_port": unused_tcp_port, "mail_retry_seconds": 0.5})
    catcher = start_mail_catcher(tmp_path, "127.0.0.1", unused_tcp_port)
    try:
        runtimes = {name: await start_service(definition, settings=settings)
                    for name, definition in all_services().items()}
        await _demo(settings, lambda: mails_in_folder(tmp_path), str(tmp_path))
    finally:
        catcher.stop()
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(tmp_path.glob("*.eml"))]
    got = sorted((m["X-Dankjewel-Notification"], m["To"]) for m in mails)
    assert got == [("coordinator-alert", "coordinator@example.org"),
                   ("coordinator-reminder", "coordinator@example.org"),
                   ("first-shift-thanks", "samira@example.org"),
                   ("lunch-invitation", "henk@example.org")]
    alert = next(m for m in mails if m["X-Dankjewel-Notification"] == "coordinator-alert")
    assert "Gerard" in alert["Subject"]
    assert "4 mails in" in capsys.readouterr().out
    # and the console shows the stories: Gerard's alert is open on Today
    async def open_alerts() -> list:
        async with runtimes["console"].sessions() as session:
            return [(name.split()[0], reason) for name, reason in await session.execute(
                select(volunteers.c.name, alerts.c.reason)
                .join(volunteers, volunteers.c.volunteer_id == alerts.c.volunteer_id)
                .where(alerts.c.closed_at.is_(None)))]

    assert await eventually(open_alerts, timeout=15) == [("Gerard", "intake-overdue")]
