"""How the suite tells a mail re-sent because its sender was killed from a duplicate.

No SMTP client can make "the server accepted this mail" and "I recorded that it
was sent" one atomic step: a sender killed between the two sends that mail again
after restarting, with the same Message-ID (docs/faults.md). Such a repeat is
counted apart, and only when the evidence says that is what happened: an earlier
copy arrived shortly before a SIGKILL of the sending process, and no kill explains
more repeats than the accepted, unrecorded mails that process can hold (two per
SMTP connection, MAIL_CONNECTIONS).
Every other repeat is a duplicate mail."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

# Between the server's 250 and the sender's COMMIT lie a few tens of milliseconds
# on a busy machine; a second is ample and still far shorter than a batch.
CRASH_WINDOW_SECONDS = 1.0
# A mail whose last bytes were in the socket when the process died is still
# accepted by the server a moment after the kill.
AFTER_KILL_SECONDS = 0.5


@dataclass(frozen=True)
class Repeats:
    resent_after_kill: int
    duplicates: int
    # For each repeat: when its earlier copy arrived, in seconds from the nearest kill
    # (negative: before it), or None without kills; printed to explain a verdict.
    offsets: tuple[float | None, ...] = ()


def count_repeats(arrivals: list[tuple[str | None, float]], kills: list[float], in_flight: int,
                  window: float = CRASH_WINDOW_SECONDS) -> Repeats:
    """`arrivals`: (Message-ID, time) of every accepted mail; `kills`: times the
    mail-sending process was killed; `in_flight`: accepted, unrecorded mails it can hold."""
    copies: dict[str | None, list[float]] = defaultdict(list)
    for message_id, at in sorted(arrivals, key=lambda arrival: arrival[1]):
        copies[message_id].append(at)
    explained = defaultdict(int)  # kill → repeats it explains
    resent = duplicates = 0
    offsets = []
    for message_id, times in copies.items():
        for earlier, later in zip(times, times[1:]):  # each copy after the first repeats the one before
            offsets.append(min((earlier - k for k in kills), key=abs, default=None))
            kill = next((k for k in kills if k - window <= earlier <= k + AFTER_KILL_SECONDS and k < later
                         and explained[k] < in_flight), None)
            if message_id is not None and kill is not None:
                explained[kill] += 1
                resent += 1
            else:
                duplicates += 1
    return Repeats(resent, duplicates, tuple(offsets))
