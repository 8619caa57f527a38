"""The `dankjewel` command: run services, write the contract files."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="dankjewel: engagement and appreciation services for volunteer organisations.",
                  no_args_is_help=True, add_completion=False)
log = logging.getLogger("dankjewel")
ALL_SERVICES_PORT = 8000


def _configure_logging(level: str) -> None:
    from services.settings import load_settings
    from shared.metrics import log_formatter
    from shared.settings import SettingsError

    try:  # LOG_FORMAT: text (default) or json, one object per line
        log_format = load_settings().log_format
    except SettingsError:  # the command reports the bad setting right after
        log_format = "text"
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    for noisy in ("uvicorn.access", "mail.log", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings():
    from services.settings import load_settings
    from shared.settings import SettingsError

    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    service: Annotated[str, typer.Argument(help="registration, tasks, checkins, appreciation, or all")],
    mail_catcher: Annotated[Path | None, typer.Option(help="Also run a local SMTP server on SMTP_HOST:SMTP_PORT "
                                                           "that keeps every mail in this folder.")] = None,
    background: Annotated[bool, typer.Option(help="Run the service's background loops (the appreciation mail "
                                                  "sender) here; --no-background when `dankjewel background` "
                                                  "runs them in a process of their own.")] = True,
    log_level: str = "INFO",
) -> None:
    """Run one service, or all of them in one process (for local use)."""
    from services.registry import all_services

    _configure_logging(log_level)
    settings = _settings()
    services = all_services()
    if service != "all" and service not in services:
        typer.echo(f"dankjewel: unknown service {service!r}; choose from {', '.join(services)} or all", err=True)
        raise typer.Exit(2)
    chosen = list(services.values()) if service == "all" else [services[service]]
    for definition in chosen:  # a bad rules file stops start-up before anything runs
        if definition.check_config:
            _check(definition.check_config, settings)
    asyncio.run(_run(chosen, settings, mail_catcher, background))


@app.command(name="background")
def background_loops(
    service: Annotated[str, typer.Argument(help="a service with background loops: appreciation")],
    log_level: str = "INFO",
) -> None:
    """Run only a service's background loops (the mail sender), beside `run --no-background`.

    With the outbox relay, no consumer and no HTTP API. Mail rendering and SMTP waits
    then never hold up event consumption, and each can be scaled on its own; set
    MAIL_POLL_SECONDS low (e.g. 0.05) here, as the consumer cannot wake another process."""
    from services.registry import all_services

    _configure_logging(log_level)
    settings = _settings()
    definition = all_services().get(service)
    if definition is None or not definition.background:
        with_loops = [name for name, d in all_services().items() if d.background]
        typer.echo(f"dankjewel: {service!r} has no background loops; choose from {', '.join(with_loops)}", err=True)
        raise typer.Exit(2)
    if definition.check_config:
        _check(definition.check_config, settings)
    asyncio.run(_run_background(definition, settings))


async def _run_background(definition, settings) -> None:  # noqa: ANN001
    from shared.service import ServiceRuntime

    runtime = ServiceRuntime(definition, settings)
    await runtime.start(consume=False, background=True, scheduled_sweeps=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("background loops of %s running", definition.name)
    await stop.wait()
    await runtime.stop()


def _check(check, settings) -> None:  # noqa: ANN001
    from shared.settings import SettingsError

    try:
        check(settings)
    except SettingsError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None


async def _run(definitions, settings, mail_folder: Path | None, background: bool = True) -> None:  # noqa: ANN001
    import uvicorn

    from shared.service import ServiceRuntime, combined_app

    catcher = None
    if mail_folder is not None:
        from shared.mailcatcher import start_mail_catcher

        catcher = start_mail_catcher(mail_folder, settings.smtp_host, settings.smtp_port)
        log.info("mail goes to smtp://%s:%d and is kept in %s", settings.smtp_host, settings.smtp_port,
                 mail_folder.resolve())
    if settings.otel_exporter_otlp_endpoint:
        from shared import tracing

        tracing.enable_spans(endpoint=settings.otel_exporter_otlp_endpoint,
                             service="dankjewel" if len(definitions) > 1 else f"dankjewel-{definitions[0].name}")
        log.info("OpenTelemetry spans are exported over OTLP/HTTP")
    runtimes = [ServiceRuntime(d, settings) for d in definitions]
    for runtime in runtimes:
        await runtime.start(background=background)
    if len(runtimes) == 1:
        http_app, port = runtimes[0].http_app(), settings.http_port or definitions[0].http_port
    else:
        http_app, port = combined_app(runtimes, settings), settings.http_port or ALL_SERVICES_PORT
    server = uvicorn.Server(uvicorn.Config(http_app, host=settings.http_host, port=port, log_level="warning"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # uvicorn captures SIGINT/SIGTERM itself while serving: it returning means "stop" too.
    serving = asyncio.create_task(server.serve())
    log.info("HTTP API on http://%s:%d (OpenAPI at /docs%s)", settings.http_host, port,
             "" if len(runtimes) == 1 else " under each /<service>")
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    with contextlib.suppress(Exception):
        await serving
    for runtime in runtimes:
        await runtime.stop()
    if catcher is not None:
        catcher.stop()


@app.command()
def migrate(
    service: Annotated[list[str] | None, typer.Argument(help="Only these services (default: every one)")] = None,
    log_level: str = "WARNING",
) -> None:
    """Bring every service's tables to the newest migration, then exit; prints what it applied.

    For deployments that migrate in a step of their own before starting (or upgrading)
    instances. Each service migrates in one transaction under its advisory lock
    (PostgreSQL), as a starting instance does, so running it beside starting
    instances, or twice, is harmless: what is applied already is not applied again."""
    from services.registry import all_services

    _configure_logging(log_level)
    services = all_services()
    unknown = [name for name in service or () if name not in services]
    if unknown:
        typer.echo(f"dankjewel: unknown service {unknown[0]!r}; choose from {', '.join(services)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    chosen = [services[name] for name in service] if service else list(services.values())
    applied = asyncio.run(_migrate(chosen, settings))
    for name, (_, after, revisions) in applied.items():
        if revisions:
            typer.echo(f"{name}: applied {', '.join(revisions)} (now at {', '.join(sorted(after))})")
        else:
            typer.echo(f"{name}: at {', '.join(sorted(after)) or 'no revision'}, nothing to apply")
    total = sum(len(revisions) for _, _, revisions in applied.values())
    typer.echo(f"{total} migrations applied")


class _AppliedMigrations(logging.Handler):
    """Collects the revisions Alembic runs in this process ("Running upgrade A -> B, …"):
    what this process applied, not what another one applied meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.revisions: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Running upgrade ") and " -> " in message:
            self.revisions.append(message.split(" -> ", 1)[1].split(",", 1)[0].strip())


async def _migrate(definitions, settings) -> dict:  # noqa: ANN001
    """{service: (revisions before, revisions after, the revisions this process applied, in order)}."""
    from shared.db import applied_revisions, create_engine
    from shared.db import migrate as migrate_service

    engine = create_engine(settings.database_url)
    alembic_log = logging.getLogger("alembic.runtime.migration")
    level, propagate = alembic_log.level, alembic_log.propagate
    result = {}
    try:
        for definition in definitions:
            async with engine.connect() as connection:
                before = await applied_revisions(connection, definition.name)
            collector = _AppliedMigrations()
            alembic_log.addHandler(collector)
            alembic_log.setLevel(logging.INFO)
            alembic_log.propagate = False  # collected here, printed once as a summary
            try:
                await migrate_service(engine, definition.name, definition.migrations_dir)
            finally:
                alembic_log.removeHandler(collector)
                alembic_log.setLevel(level)
                alembic_log.propagate = propagate
            async with engine.connect() as connection:
                after = await applied_revisions(connection, definition.name)
            result[definition.name] = (before, after, collector.revisions)
    finally:
        await engine.dispose()
    return result


tokens = typer.Typer(help="API tokens for the organisation's systems (stored as hashes in API_TOKENS_FILE).",
                     no_args_is_help=True)
app.add_typer(tokens, name="tokens")


def _token_file():  # noqa: ANN202
    from shared.auth import TokenFile

    return TokenFile(_settings().api_tokens_file)


def _token_command(action):  # noqa: ANN001, ANN202
    from shared.auth import TokenFileError

    try:
        return action()
    except TokenFileError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None


@tokens.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Who uses it, e.g. roster-system")],
    scope: Annotated[list[str], typer.Option("--scope", help="A scope it grants; repeat for more. "
                                                             "See `dankjewel tokens scopes`.")],
) -> None:
    """Create a token; it is printed once, as the last line, and only its hash is kept."""
    file = _token_file()
    token = _token_command(lambda: file.create(name, scope))
    typer.echo(f"token {name} ({', '.join(sorted(set(scope)))}) stored in {file.path}; "
               "send it as `Authorization: Bearer <token>`. It is shown only now:")
    typer.echo(token)


@tokens.command("list")
def tokens_list() -> None:
    """Every token's name, scopes, and when it was created or revoked (never the token)."""
    file = _token_file()
    stored = _token_command(file.read)
    if not stored:
        typer.echo(f"no tokens in {file.path}")
    for token in stored:
        state = f"revoked {token.revoked_at}" if token.revoked_at else "active"
        typer.echo(f"{token.name:<24} {','.join(token.scopes):<40} created {token.created_at}  {state}")


@tokens.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's name")]) -> None:
    """Revoke a token: every service refuses it as soon as it sees the changed file."""
    file = _token_file()
    _token_command(lambda: file.revoke(name))
    typer.echo(f"token {name} revoked")


@tokens.command("scopes")
def tokens_scopes() -> None:
    """The scopes a token can grant."""
    from shared.auth import SCOPES

    for scope, meaning in SCOPES.items():
        typer.echo(f"{scope:<20} {meaning}")


_PROGRESS = Annotated[bool | None, typer.Option("--progress/--no-progress",
                                                help="A progress bar on standard error (default: only when "
                                                     "standard error is a terminal)")]


class _Bar:
    """What a long command reports progress to: counts are passed to a rich progress
    bar every `every` items (a call per row would cost more than the row at 1,000,000
    rows), or dropped when there is no bar."""

    def __init__(self, progress=None, task=None, every: int = 500) -> None:  # noqa: ANN001
        self.progress, self.task, self.every, self.pending = progress, task, every, 0

    def count(self, items: int = 1) -> None:
        if self.progress is None:
            return
        self.pending += items
        if self.pending >= self.every:
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and self.pending:
            self.progress.advance(self.task, self.pending)
            self.pending = 0


@contextlib.contextmanager
def _progress_bar(wanted: bool | None, label: str, total: int | None, unit: str, every: int = 500):  # noqa: ANN202
    """A bar with count, rate and time left on standard error; by default only when
    standard error is a terminal (logs and pipes get the summary lines only)."""
    if not (sys.stderr.isatty() if wanted is None else wanted):
        yield _Bar()
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:  # noqa: ANN001
            return Text(f"{task.speed:,.0f} {unit}/s" if task.speed else f"- {unit}/s")

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                        console=Console(file=sys.stderr), transient=False)
    with progress:
        bar = _Bar(progress, progress.add_task(label, total=total), every)
        try:
            yield bar
        finally:
            bar.flush()


dlq = typer.Typer(help="Dead letters: the records a service refused, kept on <topic>.dlq.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
_DLQ_TOPIC = Annotated[str, typer.Argument(help="The topic or its dead-letter topic, e.g. shifts.completed")]
_DLQ_SINCE = Annotated[str | None, typer.Option(help="Only dead letters from this ISO 8601 date or moment on "
                                                     "(dlq-time; UTC without a time zone)")]


def _dlq_command(work):  # noqa: ANN001, ANN202
    """Run the coroutine `work()`; a DlqError or an unreachable broker is a message and exit 2."""
    from aiokafka.errors import KafkaConnectionError

    from services.dlq import DlqError

    try:
        return asyncio.run(work())
    except DlqError as error:
        typer.echo(f"dankjewel: {error}", err=True)
    except KafkaConnectionError as error:
        typer.echo(f"dankjewel: cannot reach Kafka ({error})", err=True)
    raise typer.Exit(2)


def _dlq_since(since: str | None):  # noqa: ANN202
    from services.dlq import DlqError, parse_since

    try:
        return parse_since(since)
    except DlqError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None


@dlq.command("list")
def dlq_list(
    topic: _DLQ_TOPIC,
    since: _DLQ_SINCE = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Show at most this many (all are counted)")] = None,
) -> None:
    """List a topic's dead letters and count them per reason.

    One line each: partition@offset on the dead-letter topic, dlq-time, the service
    that refused it, the original topic[partition]@offset, and the reason. Never the
    record's key or value: they may hold names and addresses."""
    from services.dlq import LIST_HEADER, list_dead_letters

    _configure_logging("WARNING")
    moment = _dlq_since(since)  # a usage error first, before any setting is looked at
    settings = _settings()
    header = [LIST_HEADER]

    def show(letter) -> None:  # noqa: ANN001
        while header:
            typer.echo(header.pop())
        typer.echo(letter.line())

    result = _dlq_command(lambda: list_dead_letters(settings, topic, since=moment, limit=limit, on_letter=show))
    if result.matched > result.shown:
        typer.echo(f"… and {result.matched - result.shown} more")
    typer.echo(f"{result.matched} dead letters" + (":" if result.reasons else ""))
    for reason, count in result.reasons:
        typer.echo(f"{count:>8}  {reason}")


@dlq.command("replay")
def dlq_replay(
    topic: _DLQ_TOPIC,
    since: _DLQ_SINCE = None,
    service: Annotated[str | None, typer.Option(help="Only dead letters this service refused (dlq-service), "
                                                     "e.g. appreciation")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be replayed; publish nothing")] = False,
    progress: _PROGRESS = None,
) -> None:
    """Publish dead letters again to their original topic, once the cause is fixed.

    Each goes back with its original key, value and headers (without the dlq-* ones).
    Safe to repeat: the services' inboxes deduplicate by CloudEvent source + id, so an
    event replayed twice has no second effect (also not in the services that took it
    the first time: every consumer of the topic sees it again). A record still refused
    is dead-lettered again. One record refused by several services is replayed once."""
    from services.dlq import LIST_HEADER, plan_replay, replay
    from services.registry import all_services

    _configure_logging("WARNING")
    moment = _dlq_since(since)  # a usage error first, before any setting is looked at
    if service is not None and service not in all_services():  # a typo would silently replay nothing
        typer.echo(f"dankjewel: unknown service {service!r}; choose from {', '.join(all_services())}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    plan = _dlq_command(lambda: plan_replay(settings, topic, since=moment, service=service))
    for letter, problem in plan.skipped[:100]:
        typer.echo(f"{letter.partition}@{letter.offset}: skipped: {problem}", err=True)
    if len(plan.skipped) > 100:
        typer.echo(f"… and {len(plan.skipped) - 100} more skipped", err=True)
    if dry_run:
        if plan.replay:
            typer.echo(LIST_HEADER)
        for letter in plan.replay:
            typer.echo(letter.line())
        typer.echo(f"{len(plan.replay)} would be replayed to {plan.topic}, {len(plan.skipped)} skipped (dry run)")
        return
    with _progress_bar(progress, f"replaying to {plan.topic}", len(plan.replay), "records", every=20) as bar:
        sent = _dlq_command(lambda: replay(settings, plan, on_sent=lambda letter: bar.count()))
    typer.echo(f"{sent} replayed to {plan.topic}, {len(plan.skipped)} skipped")


users = typer.Typer(help="Accounts of the coordinators and administrators who sign in to the console.",
                    no_args_is_help=True)
app.add_typer(users, name="users")


def _users_command(action):  # noqa: ANN001, ANN202
    """Run `action(connection)` in one transaction on the console's tables (created if needed)."""
    from services.console.domain import AccountError

    settings = _settings()
    try:
        return asyncio.run(_on_console_tables(settings, action))
    except AccountError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None


async def _on_console_tables(settings, action):  # noqa: ANN001, ANN202
    from services.console.service import definition as console
    from shared.db import create_engine, migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine, console.name, console.migrations_dir)
        async with engine.begin() as connection:
            return await action(connection)
    finally:
        await engine.dispose()


@users.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Their email address (stored lower-case)")],
    role: Annotated[str, typer.Option(help="coordinator or admin")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password (at least 12 "
                                                                           "characters) from the first line of "
                                                                           "standard input")] = False,
    language: Annotated[str | None, typer.Option(help="nl or en; default COORDINATOR_LANGUAGE")] = None,
) -> None:
    """Add an account. The password comes from standard input, never from the command
    line, where other users of the machine and the shell history would see it."""
    import sys

    from services.console.usecases import add_user

    if not password_stdin:
        typer.echo("dankjewel: give --password-stdin and the password on standard input", err=True)
        raise typer.Exit(2)
    if sys.stdin.isatty():  # typed by hand: do not show it on the screen
        import getpass

        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    language = language or _settings().coordinator_language
    address = _users_command(lambda connection: add_user(connection, email, role, password, language))
    typer.echo(f"account {address} ({role}, {language}) added")


@users.command("list")
def users_list() -> None:
    """Every account's address, role, language, and when it was created or disabled (never the password hash)."""
    from services.console.usecases import list_users

    accounts = _users_command(list_users)
    if not accounts:
        typer.echo("no accounts")
    for account in accounts:
        disabled = f"disabled {account.disabled_at.isoformat(timespec='seconds')}" if account.disabled_at else "active"
        typer.echo(f"{account.email:<40} {account.role:<12} {account.language}  "
                   f"created {account.created_at.isoformat(timespec='seconds')}  {disabled}")


@users.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="Their email address")]) -> None:
    """Disable an account: its sessions stop working at their next request."""
    from services.console.usecases import disable_user

    _users_command(lambda connection: disable_user(connection, email))
    typer.echo(f"account {email.strip().lower()} disabled")


@app.command()
def export(
    volunteer_id: Annotated[str, typer.Argument(help="Whose data, e.g. henk")],
    output: Annotated[Path | None, typer.Option(help="Write the JSON here instead of printing it")] = None,
) -> None:
    """Everything every service holds about one volunteer, as one JSON document (GDPR art. 15/20).

    Reads each service's tables in DATABASE_URL; for services on other databases,
    use each one's `GET /<service>/volunteers/{id}/export` with an admin token."""
    from pydantic import TypeAdapter, ValidationError

    from shared.values import SafeId

    try:
        TypeAdapter(SafeId).validate_python(volunteer_id)
    except ValidationError:
        typer.echo("dankjewel: VOLUNTEER_ID must be 1 to 200 letters, digits or . _ : @ + -", err=True)
        raise typer.Exit(2) from None
    settings = _settings()
    document = asyncio.run(_export(settings, volunteer_id))
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
        output.chmod(0o600)
        typer.echo(f"wrote {output}", err=True)


async def _export(settings, volunteer_id: str) -> dict:  # noqa: ANN001
    from services.registry import all_services
    from shared.db import create_engine
    from shared.privacy import export_document, export_volunteer

    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            return export_document(volunteer_id, {name: await export_volunteer(connection, d.metadata, volunteer_id)
                                                  for name, d in all_services().items()})
    finally:
        await engine.dispose()


@app.command()
def sweep(
    as_of: Annotated[str | None, typer.Option(help="ISO 8601 moment with time zone, e.g. "
                                                   "2026-12-01T09:00:00+01:00; default: now")] = None,
    service: Annotated[str, typer.Option(help="One service, or all")] = "all",
    log_level: str = "INFO",
    progress: _PROGRESS = None,
) -> None:
    """Run the time-based rules (deadlines, anniversaries) once, as of a moment, and publish what they raise."""
    from datetime import datetime, timezone

    from services.registry import all_services

    _configure_logging(log_level)
    settings = _settings()
    try:
        moment = datetime.fromisoformat(as_of) if as_of else datetime.now(timezone.utc)
    except ValueError:
        typer.echo(f"dankjewel: --as-of {as_of!r} is not an ISO 8601 moment", err=True)
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        typer.echo("dankjewel: --as-of needs a time zone, e.g. 2026-12-01T09:00:00+01:00", err=True)
        raise typer.Exit(2)
    services = all_services()
    if service != "all" and service not in services:
        typer.echo(f"dankjewel: unknown service {service!r}; choose from {', '.join(services)} or all", err=True)
        raise typer.Exit(2)
    chosen = [d for d in services.values() if d.sweep and (service in ("all", d.name))]
    with _progress_bar(progress, "sweep", total=len(chosen), unit="services", every=1) as bar:
        total = asyncio.run(_sweep(chosen, settings, moment, bar=bar))
    typer.echo(f"sweep as of {moment.isoformat()}: {total} raised")


async def _sweep(definitions, settings, moment, bar: _Bar | None = None) -> int:  # noqa: ANN001
    from shared.service import ServiceRuntime

    total = 0
    for definition in definitions:
        runtime = ServiceRuntime(definition, settings)
        await runtime.start(consume=False, scheduled_sweeps=False)
        try:
            total += await runtime.sweep(moment)
            while await runtime.relay.publish_pending():
                pass
        finally:
            await runtime.stop()
        if bar is not None:
            bar.count()  # a service swept and its events published
    return total


@app.command()
def demo(
    mail_folder: Annotated[Path, typer.Option(help="Where `make run`'s mail catcher keeps mail")] = Path("var/mail"),
    mailpit: Annotated[str | None, typer.Option(help="Read the mail from Mailpit's API instead (docker compose: "
                                                    "http://mailpit:8025)")] = None,
) -> None:
    """Publish the focus group's stories through Kafka to a running stack (`make run`, or
    docker compose with --mailpit), run the sweeps, and list the mails that result."""
    from services import demo as stories

    if mailpit is not None and not mailpit.startswith(("http://", "https://")):
        typer.echo("dankjewel: --mailpit takes an http(s) URL, e.g. http://mailpit:8025", err=True)
        raise typer.Exit(2)
    _configure_logging("WARNING")
    settings = _settings()
    if mailpit is not None:
        mailbox, where = (lambda: stories.mails_in_mailpit(mailpit)), f"Mailpit ({mailpit})"
    else:
        mailbox, where = (lambda: stories.mails_in_folder(mail_folder)), str(mail_folder.resolve())
    asyncio.run(_demo(settings, mailbox, where))


async def _demo(settings, mailbox, where: str) -> None:  # noqa: ANN001
    from datetime import datetime

    from sqlalchemy import select

    from services import demo
    from services.appreciation.tables import volunteers
    from services.checkins.tables import clocks
    from services.registry import all_services
    from shared.db import create_engine

    before = set(await asyncio.to_thread(mailbox))
    now = datetime.now(settings.timezone)
    typer.echo("publishing the stories of Henk, Samira and Gerard to Kafka …")
    people = await demo.publish_history(settings, now.date())
    engine = create_engine(settings.database_url)

    async def consumed() -> bool:
        async with engine.connect() as connection:
            henk = await connection.scalar(select(volunteers.c.shift_count).where(
                volunteers.c.volunteer_id == people["henk"]))
            gerard = await connection.scalar(select(clocks.c.due_at).where(clocks.c.volunteer_id == people["gerard"]))
            return henk == 12 and gerard is not None

    if not await demo.wait_until(consumed):
        typer.echo("dankjewel: the services did not take the events in within 60 s; is the stack running?", err=True)
        await engine.dispose()
        raise typer.Exit(1)
    await engine.dispose()
    typer.echo(f"running the sweeps as of {now.isoformat(timespec='minutes')} …")
    services = all_services()
    await _sweep([services["checkins"], services["appreciation"]], settings, now)

    async def new_mails() -> dict:
        return {key: mail for key, mail in (await asyncio.to_thread(mailbox)).items() if key not in before}

    async def mails_arrived() -> bool:
        return len(await new_mails()) >= 4

    await demo.wait_until(mails_arrived)
    await asyncio.sleep(2)  # anything more would show up now
    new = await new_mails()
    typer.echo(f"{len(new)} mails in {where}:")
    for mail in sorted(new.values(), key=lambda mail: (mail.notification, mail.to)):
        typer.echo(f"  {mail.notification:<22} to {mail.to:<26} {mail.subject}")
        typer.echo(f"  {'':<22}    {mail.where}")
    typer.echo(f"and in the coordinators' console, {settings.console_base_url.rstrip('/')}/ : Gerard's alert on Today "
               "(\"I spoke to Gerard\" closes it), Henk's fifth year coming up, and each one's timeline.")


@app.command(name="import")
def import_file(
    kind: Annotated[str, typer.Argument(help="volunteers or shifts")],
    file: Annotated[Path, typer.Argument(help="A CSV file with a header row (columns: see the README)",
                                         exists=True, dir_okay=False, readable=True)],
    progress: _PROGRESS = None,
) -> None:
    """Publish a CSV export (a roster, a spreadsheet) as events on Kafka, one per row.

    Importing the same file again changes nothing; bad rows are reported with their
    line number and skipped."""
    from services.importer import KINDS, ImportFileError, publish_file

    if kind not in KINDS:
        typer.echo(f"dankjewel: unknown kind {kind!r}; choose from {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    _configure_logging("WARNING")
    settings = _settings()
    bad: list = []
    show = sys.stderr.isatty() if progress is None else progress
    # Lines, not rows (a quoted cell may span lines): near enough for the time left.
    total = max(sum(1 for _ in file.open("rb")) - 1, 0) if show else None
    with _progress_bar(show, f"importing {kind}", total, "rows") as bar:
        def on_row(row) -> None:  # noqa: ANN001
            bar.count()
            if row.problem:
                bad.append(row)

        try:
            result = asyncio.run(publish_file(settings, kind, file, on_row=on_row))
        except ImportFileError as error:
            typer.echo(f"dankjewel: {error}", err=True)
            raise typer.Exit(2) from None
    for row in bad[:100]:
        typer.echo(f"line {row.line}: skipped: {row.problem}", err=True)
    if len(bad) > 100:
        typer.echo(f"… and {len(bad) - 100} more rows skipped", err=True)
    typer.echo(f"{result.published} {kind} published to Kafka, {result.skipped} rows skipped")
    raise typer.Exit(1 if result.skipped else 0)


rules = typer.Typer(help="The rules file (RULES_FILE): milestones, alerts and follow-up deadlines.",
                    no_args_is_help=True)
app.add_typer(rules, name="rules")


@rules.command("check")
def rules_check(
    file: Annotated[Path, typer.Argument(help="The rules file to check, e.g. my-rules.yaml")],
    as_of: Annotated[str | None, typer.Option(help="ISO 8601 moment with time zone for the grace window; "
                                                   "default: now")] = None,
) -> None:
    """Validate a rules file (exit 2 naming the file and line), then show what applying
    it would change for the volunteers in DATABASE_URL, per milestone: how many would be
    celebrated now and how many recorded silently (older than the grace window). Reads only."""
    from datetime import datetime, timezone

    from services.appreciation.rules import load_rules
    from services.checkins.rules import load_followups
    from shared.settings import SettingsError

    try:
        new_rules = load_rules(file)
        followups = load_followups(file)
    except SettingsError as error:
        typer.echo(f"dankjewel: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        moment = datetime.fromisoformat(as_of) if as_of else datetime.now(timezone.utc)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        typer.echo(f"dankjewel: --as-of {as_of!r} is not an ISO 8601 moment with a time zone", err=True)
        raise typer.Exit(2)
    count = sum(len(rule.at) for rule in new_rules.milestones)
    typer.echo(f"{file}: valid ({count} milestones, grace window {new_rules.grace_days} days; follow-ups: intake "
               f"{followups.intake_deadline_days} d, onboarding {followups.onboarding_deadline_days} d, periodic "
               f"{followups.periodic_months} months, quiet {followups.quiet_after_days} d, escalation "
               f"{followups.escalation_after_days} d before environment overrides)")
    settings = _settings()
    try:
        effect, seen, changed = asyncio.run(_rules_effect(settings, new_rules, moment))
    except Exception as error:  # noqa: BLE001 - no database, or one without appreciation's tables
        typer.echo(f"dankjewel: cannot read the appreciation tables in DATABASE_URL ({type(error).__name__}); "
                   "start the appreciation service once, or run `dankjewel migrate`", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{seen} volunteers in DATABASE_URL; " + {
        True: "these rules differ from those last applied: the next start re-evaluates every volunteer once",
        False: "these are the rules last applied: starting with them changes nothing",
        None: "no rules were applied yet: the next start takes the file in force as they are (no re-evaluation)",
    }[changed])
    names = sorted(set(effect.celebrated) | set(effect.silent))
    if not names:
        typer.echo("no volunteer passed a milestone they do not have yet: nothing would be recorded")
        return
    typer.echo(f"{'milestone':<30} {'celebrated now':>14} {'recorded silently':>17}")
    for name in names:
        typer.echo(f"{name:<30} {effect.celebrated.get(name, 0):>14} {effect.silent.get(name, 0):>17}")
    typer.echo(f"{'total':<30} {sum(effect.celebrated.values()):>14} {sum(effect.silent.values()):>17}")


async def _rules_effect(settings, new_rules, moment):  # noqa: ANN001, ANN202
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.appreciation import usecases
    from shared.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        effect, seen = await usecases.rules_effect(sessions, new_rules, moment, settings.timezone)
        return effect, seen, await usecases.rules_differ(sessions, new_rules)
    finally:
        await engine.dispose()


@app.command()
def schemas(check: Annotated[bool, typer.Option(help="Only report stale files; exit 1 if any.")] = False) -> None:
    """Write one JSON Schema file per event type into shared/schemas/."""
    from shared.schemas import SCHEMA_DIR, stale_schemas, write_schemas

    if check:
        stale = stale_schemas()
        for name in stale:
            typer.echo(f"out of date: {SCHEMA_DIR / name}")
        raise typer.Exit(1 if stale else 0)
    for path in write_schemas():
        typer.echo(f"wrote {path}")


@app.command()
def asyncapi(output: Annotated[Path, typer.Option(help="Where to write the AsyncAPI 3 document.")] =
             Path("docs/asyncapi.json")) -> None:
    """Write the AsyncAPI document of all services' channels (generated by faststream)."""
    from services.registry import all_services
    from shared.schemas import asyncapi_document

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(asyncapi_document(all_services().values()), indent=2, sort_keys=True) + "\n")
    typer.echo(f"wrote {output}")


if __name__ == "__main__":
    app()
