"""An SMTP server that accepts everything and prints, per message, the moment the
DATA arrived and its recipients: `python -m bench.smtp_sink PORT`.

It runs as its own process so that receiving and parsing mail does not take the
CPU (and the GIL) of the service measured in the benchmark's process. Times are
`time.monotonic()`: on Linux that is CLOCK_MONOTONIC, one clock for every process."""

from __future__ import annotations

import signal
import sys
import threading
import time


class Sink:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001 - aiosmtpd's hook
        now = time.monotonic()
        print(f"{now:.6f} {' '.join(r.lower() for r in envelope.rcpt_tos)}", flush=True)
        return "250 OK"


def main(port: int) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
