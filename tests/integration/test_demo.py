"""`dankjewel demo` against running services: the stories become the four mails."""

from email import message_from_bytes, policy

from services.cli import _demo
from services.registry import all_services
from shared.mailcatcher import start_mail_catcher


async def test_demo_publishes_the_stories_and_the_mails_arrive(start_service, settings, tmp_path, unused_tcp_port,
                                                               capsys):
    settings = settings.model_copy(update={"smtp_port": unused_tcp_port, "mail_retry_seconds": 0.5})
    catcher = start_mail_catcher(tmp_path, "127.0.0.1", unused_tcp_port)
    try:
        for definition in all_services().values():
            await start_service(definition, settings=settings)
        await _demo(settings, tmp_path)
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
