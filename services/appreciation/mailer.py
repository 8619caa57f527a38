"""The mail sender, an adapter: claims due rows from `appreciation_mails` (store.py),
asks domain.py what each one is (send to whom and in which language, skip, wait),
renders it (messages.py) and hands it to SMTP over a few reused connections at
once; records each sent mail at once and the other outcomes of a batch together
in one transaction. It never calls up into the use cases or the handlers.

* 250 → `sent`, and `appreciations.sent` goes to the outbox in the same transaction.
* 4xx, a refused connection, a broken session → retried later with backoff
  (MAIL_RETRY_SECONDS doubling up to MAIL_RETRY_MAX_SECONDS); the session is reset.
* 5xx → `failed`, kept visible, and the coordinator is told (delivery-failed).
* no consent, unsubscribed, erased, no address → `skipped`, with the reason.
SMTP being down never touches Kafka consumption: the use cases only queue rows.

A batch is claimed first (its rows' next attempt moved a lease ahead, with SKIP
LOCKED), so two service instances never send the same mail; a sender that dies
mid-batch leaves its unsent mails for the lease (60 s).

No SMTP client can make the server's acceptance and its own record of it one
atomic step: a crash between the two sends that mail again (same Message-ID). So
each mail's `sent` record (row update and outbox event) is committed as soon as
the server answers 250, while its connection sends the next mail; a connection
starts a third mail only once the first one's record is committed, so at most
two accepted, unrecorded mails per connection (MAIL_CONNECTIONS) exist at any
moment. The records are group-committed (whatever was accepted while a commit
ran goes in the next one), each commit one statement over a database connection
that, like the SMTP sessions, is kept while mail keeps coming; a record the
database cannot take yet stays in memory and is written first when it is back:
a database outage does not make the sender send a mail twice.
Connections stay open while mail keeps coming and are closed once the queue has
been empty for KEEP_SESSIONS_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncConnection

from services.appreciation import domain, messages, store
from shared import tracing
from shared.consumer import RetryPolicy, is_transient
from shared.contracts import ALERT_RAISED, APPRECIATION_SENT_V2, AlertRaised, AppreciationSentV2
from shared.delivery import outbox_row
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)

# How long a claimed batch is left to its sender before another may claim it (and
# how long a crashed sender's mails wait). A sender starts no new mail of its batch
# once half of it has passed, so one in flight (SMTP timeout 15 s) ends inside it.
LEASE = timedelta(seconds=60)


# How long SMTP sessions stay open after the last mail, for the next one.
KEEP_SESSIONS_SECONDS = 5.0

SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError)


@dataclass
class Outcomes:
    """What happened to a batch's mails other than being sent; written together when
    the batch ends (sent mails are recorded as they go: `_record_sent`)."""

    rescheduled: list = field(default_factory=list)  # (mail, when, reason, attempts)
    finished: list = field(default_factory=list)  # (mail, status, reason)
    refused: list = field(default_factory=list)  # (mail, SMTP code)
    unreachable: str | None = None  # why the SMTP server could not be reached, once it could not
    database_error: Exception | None = None  # a sent mail's record failed: start no more mail


class MailSender:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.connections: list[aiosmtplib.SMTP | None] = [None] * self.settings.mail_connections
        # (mail, recipient) the server accepted whose `sent` record is not committed yet.
        self.unrecorded: list[tuple] = []
        self.recording = asyncio.Lock()  # one commit of sent records at a time
        self.database: AsyncConnection | None = None  # claims and records go over it (send_due)

    async def run(self) -> None:
        wake = self.runtime.waker(store.MAIL_QUEUE)
        failures = 0
        last_sent = time.monotonic()
        try:
            while True:
                wake.clear()
                try:
                    handled = await self.send_due()
                    failures = 0
                    if handled:
                        last_sent = time.monotonic()
                except Exception as error:
                    await self._close_database()  # a failed connection is not used again
                    if not is_transient(error):
                        raise
                    failures += 1  # the database is away: wait, the queue is still there afterwards
                    delay = RetryPolicy().backoff(failures)
                    log.warning("mail sender: database unavailable (%s); retrying in %.1fs",
                                type(error).__name__, delay)
                    await asyncio.sleep(delay)
                    continue
                if not handled:
                    # Steady mail (100/s arrives in many small batches) keeps its sessions:
                    # a new one costs a connect and EHLO before the mail. Idle ones close
                    # well before a server's own timeout (RFC 5321: at least 5 minutes).
                    if time.monotonic() - last_sent >= KEEP_SESSIONS_SECONDS:
                        await self.close_sessions()
                        await self._close_database()
                    # Woken as soon as a transaction queues mail (in this process directly, from
                    # another through PostgreSQL NOTIFY); the timeout catches retries that fall due.
                    try:
                        await asyncio.wait_for(wake.wait(), timeout=self.settings.mail_poll_seconds)
                    except asyncio.TimeoutError:
                        pass
        finally:
            for slot in range(len(self.connections)):
                self._reset(slot)  # stopping: drop the connections without waiting on the server
            if self.unrecorded:  # accepted mails: record them now, or they are sent again after a restart
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._record_sent(await self._database()), timeout=5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._close_database(), timeout=5)

    async def send_due(self) -> int:
        """Send up to MAIL_BATCH_SIZE due mails; returns how many were handled."""
        now = self.runtime.clock()
        # Claim and records go over one database connection, kept while mail keeps
        # coming like the SMTP sessions: a check-out from the pool costs three round
        # trips (pre-ping) before the first statement. No database, no mail goes out.
        connection = await self._database()
        await self._record_sent(connection)  # what the database could not take before comes first
        due = await self._claim(connection, now)
        if not due:
            return 0
        outcomes = Outcomes()
        queue = deque(due)
        try:
            # Each mail waits on four SMTP round trips; over several connections at
            # once the waits overlap.
            async with asyncio.TaskGroup() as group:
                for slot in range(min(len(due), self.settings.mail_connections)):
                    group.create_task(self._send_from(queue, slot, now, outcomes, connection))
        finally:
            await self._record(outcomes)
        if outcomes.database_error is not None:
            raise outcomes.database_error
        return len(due)

    async def _database(self) -> AsyncConnection:
        if self.database is None:
            connection = await self.runtime.engine.connect()
            if connection.dialect.name == "postgresql":
                # Claims and records are single statements, each atomic on its own
                # (store.py): no BEGIN and COMMIT round trips around them.
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            self.database = connection
        return self.database

    async def _close_database(self) -> None:
        connection, self.database = self.database, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection: the pool drops it
                await connection.close()

    async def _send_from(self, queue: deque, slot: int, now: datetime, outcomes: Outcomes,
                         connection: AsyncConnection) -> None:
        stop_starting = time.monotonic() + LEASE.total_seconds() / 2
        recording = None  # the commit of this connection's last accepted mail, still running
        try:
            while queue:
                mail = queue.popleft()
                if time.monotonic() > stop_starting or outcomes.database_error:  # give the rest back, due now
                    outcomes.rescheduled.append((mail, now, None, mail.attempts))
                    continue
                if not await self._send_one(mail, slot, now, outcomes):
                    continue
                # The next mail goes out while this one's record commits (waiting for each
                # record took longer than the SMTP exchange itself: 28 against 21 ms per
                # mail, measured); the one before must be committed first: at most two
                # accepted, unrecorded mails per connection.
                if recording is not None:
                    await recording
                recording = asyncio.create_task(self._record_accepted(connection, outcomes))
        finally:
            if recording is not None:
                await recording

    async def _send_one(self, mail, slot: int, now: datetime, outcomes: Outcomes) -> bool:  # noqa: ANN001
        """Hand one mail to the server; True when it accepted it (its record is the caller's)."""
        decision = self._decide(mail, now)
        if isinstance(decision, domain.Wait):
            outcomes.rescheduled.append((mail, decision.until, None, mail.attempts))
            return False
        if isinstance(decision, domain.Skip):
            outcomes.finished.append((mail, "skipped", decision.reason))
            return False
        recipient = decision.recipient
        try:
            message = self._message(mail, decision)
        except messages.HeaderInjection:
            outcomes.finished.append((mail, "failed", "header value with CR/LF refused"))
            return False
        if outcomes.unreachable:  # once the server cannot be reached, the rest of the batch waits too
            self._retry(outcomes, mail, now, outcomes.unreachable)
            return False
        if self.connections[slot] is None:
            try:
                self.connections[slot] = await self._connect()
            except SMTP_ERRORS as error:
                outcomes.unreachable = f"SMTP server unreachable ({type(error).__name__})"
                self._retry(outcomes, mail, now, outcomes.unreachable)
                return False
        try:
            # A span of the trace that queued the mail (an HTTP request, an organisation's event).
            with tracing.span("send mail", tracing.continued(mail.context.get("traceparent")),
                              **{"dankjewel.notification": mail.notification, "dankjewel.mail_id": mail.id}):
                await self.connections[slot].send_message(message)
        except SMTP_ERRORS as error:
            code = smtp_code(error)
            verdict = domain.smtp_verdict(code, isinstance(error, aiosmtplib.SMTPServerDisconnected))
            if verdict.final:
                outcomes.refused.append((mail, code))
            else:
                self._retry(outcomes, mail, now, f"SMTP {code}" if code else type(error).__name__)
            if verdict.reset_session:
                self._reset(slot)
            return False
        self.unrecorded.append((mail, recipient))
        return True

    async def _record_accepted(self, connection: AsyncConnection, outcomes: Outcomes) -> None:
        try:
            await self._record_sent(connection)
        except Exception as error:
            if not is_transient(error):
                raise
            outcomes.database_error = error  # the records wait in memory for the database

    async def _record_sent(self, connection: AsyncConnection) -> None:
        """Commit the `sent` record (row and `appreciations.sent`) of every accepted mail
        not yet recorded, at once; a mail accepted while another commit runs goes in
        the next. On failure the records stay for the next try."""
        async with self.recording:
            batch = list(self.unrecorded)
            if not batch:
                return  # an earlier commit took ours along
            now = self.runtime.clock()
            # v2: the audience, not the address (the mail's row keeps that).
            events = [outbox_row(APPRECIATION_SENT_V2, AppreciationSentV2(
                volunteer_id=mail.volunteer_id, milestone=mail.occasion[:100], notification=mail.notification,
                audience=mail.audience), self.runtime.name, now, event_id=f"mail:{mail.id}")[1] for mail, _ in batch]
            async with connection.begin():
                await store.record_sent(connection, batch, events, now)
            del self.unrecorded[:len(batch)]  # only this lock's holder removes; new ones are at the end
            if self.runtime.relay is not None:  # committed: `appreciations.sent` can go
                self.runtime.relay.wake()
            self.runtime.metrics.mails("sent", len(batch))

    async def _claim(self, connection: AsyncConnection, now: datetime) -> list:
        async with connection.begin():
            return await store.claim_due_mails(connection, now, self.settings.mail_batch_size, LEASE)

    async def _record(self, outcomes: Outcomes) -> None:
        """Write a batch's outcomes in one transaction, one statement per kind; a 5xx is
        final: the coordinator is told, by mail and in the console (`alerts.raised`)."""
        async with self.runtime.unit() as unit:
            alerts = [(mail.volunteer_id, alert) for mail, _ in outcomes.refused
                      if (alert := domain.delivery_failed_alert(mail.occasion, mail.notification, unit.now))]
            state = store.Store(unit.session)
            if alerts:
                # The volunteers' locks first, then their mail rows: the order every
                # writer of their mails keeps (the consumer too), so none deadlocks another.
                await state.load(volunteer_id for volunteer_id, _ in alerts)
            await store.record_outcomes(unit.session, outcomes.rescheduled, outcomes.finished, outcomes.refused)
            if alerts:
                for volunteer_id, alert in alerts:
                    volunteer = state.volunteers[volunteer_id]
                    mail = alert.mail()
                    if volunteer.erased_at is not None or not await state.queue_mail(
                            volunteer_id, mail.occasion, mail.notification, mail.audience, mail.context,
                            created_at=unit.now):
                        continue
                    recipient, _ = domain.staff_recipient(self.settings, alert.audience, alert.context,
                                                          volunteer.coordinator_email)
                    await unit.emit(ALERT_RAISED, AlertRaised(
                        volunteer_id=volunteer_id, reason=alert.reason, coordinator_email=recipient,
                        due_since=alert.due_since), event_id=alert.event_id(volunteer_id))
                await state.save()
                unit.wake(store.MAIL_QUEUE)
        self.runtime.metrics.mails("failed", len(outcomes.refused))
        for mail, status, reason in outcomes.finished:
            self.runtime.metrics.mails("skipped" if status == "skipped" else "failed")
            log.info("mail %d (%s) %s: %s", mail.id, mail.notification, status, reason)
        for mail, code in outcomes.refused:
            log.warning("mail %d (%s) refused with SMTP %d; coordinator told", mail.id, mail.notification, code)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        # SMTP_TLS: TLS from the first byte (port 465); SMTP_STARTTLS: upgraded after
        # EHLO (587). Settings refuse both at once.
        smtp = aiosmtplib.SMTP(hostname=s.smtp_host, port=s.smtp_port, timeout=15,
                               start_tls=s.smtp_starttls, use_tls=s.smtp_tls)
        await smtp.connect()
        if s.smtp_username and s.smtp_password:
            await smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
        self.runtime.metrics.smtp_session_opened()
        return smtp

    def _reset(self, slot: int) -> None:
        if self.connections[slot] is not None:
            self.connections[slot].close()
        self.connections[slot] = None

    async def close_sessions(self) -> None:
        """Say goodbye (QUIT) on every open connection: the queue has been empty a while."""
        for slot, smtp in enumerate(self.connections):
            if smtp is None:
                continue
            try:
                await smtp.quit()
            except SMTP_ERRORS:
                smtp.close()
            self.connections[slot] = None

    def _decide(self, mail, now: datetime) -> domain.Send | domain.Skip | domain.Wait:  # noqa: ANN001
        decision = domain.mail_decision(mail, self.settings, now)
        if isinstance(decision, domain.Send) and decision.replaced:  # the address itself is personal data
            log.warning("mail %d: coordinator address outside COORDINATOR_EMAIL_DOMAINS replaced by the "
                        "default (volunteer %s)", mail.id, mail.volunteer_id)
        return decision

    def _message(self, mail, decision: domain.Send):  # noqa: ANN001, ANN202
        values = domain.template_values(mail.context, mail.name, mail.volunteer_id, decision.language) | {
            "unsubscribe_url": messages.unsubscribe_url(self.settings, mail.volunteer_id),
            "console_url": messages.console_url(self.settings, mail.volunteer_id, mail.context),
        }
        if mail.notification == domain.SHIFT_REMINDER:  # its own links: "I cannot come", "no more reminders"
            values |= {"decline_url": messages.decline_url(self.settings, mail.volunteer_id, mail.context["shift_id"]),
                       "reminders_off_url": messages.shift_reminders_off_url(self.settings, mail.volunteer_id,
                                                                             values["unsubscribe_url"])}
        return messages.build_message(settings=self.settings, volunteer_id=mail.volunteer_id,
                                      occasion=mail.occasion, notification=mail.notification,
                                      audience=mail.audience, recipient=decision.recipient,
                                      language=decision.language, values=values)

    def _retry(self, outcomes: Outcomes, mail, now: datetime, reason: str) -> None:  # noqa: ANN001
        when = domain.retry_at(now, mail.attempts, self.settings.mail_retry_seconds,
                               self.settings.mail_retry_max_seconds)
        log.warning("mail %d (%s) not accepted (%s); retrying in %.0fs", mail.id, mail.notification, reason,
                    (when - now).total_seconds())
        outcomes.rescheduled.append((mail, when, reason, mail.attempts + 1))
        self.runtime.metrics.mails("retried")


def smtp_code(error: BaseException) -> int | None:
    """The SMTP reply code behind an error, if the server gave one."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        return error.recipients[0].code
    if isinstance(error, aiosmtplib.SMTPResponseException) and error.code > 0:
        return error.code
    return None


async def send_mail(runtime: ServiceRuntime) -> None:
    """Background loop of the appreciation service. What it did is counted in the
    service's metrics (`dankjewel_mails_total` by outcome, `dankjewel_smtp_sessions_total`)."""
    await MailSender(runtime).run()
