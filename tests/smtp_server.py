"""A recording SMTP server for tests, the fault suite and the benchmark."""

from __future__ import annotations

import time


class RecordingSmtp:
    """A real SMTP server on loopback (aiosmtpd) that records what it accepted, and
    can be made to refuse connections or answer 4xx for a while."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list = []
        self.arrivals: list[tuple[str | None, float]] = []  # (Message-ID, time.monotonic()) per accepted mail
        self.temporary_failure = False
        self.rejected_recipients: set[str] = set()  # answered 550: a permanent failure
        self.controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.rejected_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        from email import message_from_bytes, policy

        if self.temporary_failure:
            return "451 Requested action aborted: try again later"
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append(message)
        self.arrivals.append((message["Message-ID"], time.monotonic()))
        return "250 OK"

    def clear(self) -> None:
        self.messages.clear()
        self.arrivals.clear()

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)  # one per start: not restartable
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]
