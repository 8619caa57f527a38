"""A local SMTP server that keeps every mail as an .eml file (for `make run`)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


class SaveToFolder:
    """aiosmtpd handler: writes each accepted message to `folder/<time>-<n>.eml`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's hook name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.folder / f"{stamp}-{self.count:05d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        log.info("mail catcher kept a message as %s", path)
        return "250 Message accepted for delivery"


def start_mail_catcher(folder: Path, host: str, port: int) -> Controller:
    controller = Controller(SaveToFolder(folder), hostname=host, port=port)
    controller.start()
    return controller
