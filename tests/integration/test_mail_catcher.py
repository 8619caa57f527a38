"""The local mail catcher of `make run` is a real SMTP server that keeps every mail."""

from email import message_from_bytes
from email.message import EmailMessage

import aiosmtplib

from shared.mailcatcher import start_mail_catcher


async def test_mail_catcher_keeps_each_message_as_a_file(tmp_path, unused_tcp_port):
    catcher = start_mail_catcher(tmp_path, "127.0.0.1", unused_tcp_port)
    try:
        for number in (1, 2):
            message = EmailMessage()
            message["From"], message["To"] = "dankjewel@example.org", "henk@example.org"
            message["Subject"] = f"Bedankt voor je dienst {number}"
            message.set_content("Dank je wel!")
            await aiosmtplib.send(message, hostname="127.0.0.1", port=unused_tcp_port)
    finally:
        catcher.stop()
    files = sorted(tmp_path.glob("*.eml"))
    assert [message_from_bytes(f.read_bytes())["Subject"] for f in files] == [
        "Bedankt voor je dienst 1", "Bedankt voor je dienst 2"]
