"""Operations without servers: settings, JSON log lines, advisory lock keys,
partition-count warnings, metrics exposition and the outbox gauges (SQLite)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, insert

from shared import kafka
from shared.auth import SCOPES
from shared.db import advisory_key, create_engine, delivery_tables
from shared.metrics import INVALID_TYPE, JsonFormatter, ServiceMetrics, current_service, log_formatter
from services.settings import load_settings
from shared.settings import SettingsError


def samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.exposition().decode()) for s in family.samples}


# --- settings ---------------------------------------------------------------------

def test_operations_settings_have_defaults_and_bounds(monkeypatch):
    for name in ("KAFKA_PARTITIONS", "KAFKA_REPLICATION_FACTOR", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.kafka_partitions, settings.kafka_replication_factor, settings.log_format) == (3, 1, "text")
    monkeypatch.setenv("KAFKA_PARTITIONS", "12")
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = load_settings()
    assert (settings.kafka_partitions, settings.kafka_replication_factor, settings.log_format) == (12, 3, "json")


@pytest.mark.parametrize(("variable", "value"), [("KAFKA_PARTITIONS", "0"), ("KAFKA_REPLICATION_FACTOR", "0"),
                                                 ("LOG_FORMAT", "xml")])
def test_bad_operations_settings_are_named(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_metrics_have_a_scope_of_their_own():
    assert "metrics:read" in SCOPES


# --- JSON logs ----------------------------------------------------------------------

def record(message: str, *args, name: str = "shared.relay", level: int = logging.WARNING, **extra):
    entry = logging.LogRecord(name, level, __file__, 1, message, args, None)
    entry.__dict__.update(extra)
    return entry


def test_json_log_line_has_time_level_logger_message():
    line = JsonFormatter().format(record("outbox relay: %s; retrying in %.1fs", "KafkaError", 0.5))
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message"}
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "WARNING", "shared.relay", "outbox relay: KafkaError; retrying in 0.5s")
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None


def test_json_log_line_names_the_service_of_the_task_or_the_record():
    token = current_service.set("appreciation")
    try:
        assert json.loads(JsonFormatter().format(record("sweep")))["service"] == "appreciation"
        assert json.loads(JsonFormatter().format(record("sweep", service="tasks")))["service"] == "tasks"
    finally:
        current_service.reset(token)
    assert "service" not in json.loads(JsonFormatter().format(record("sweep")))


def test_json_log_line_keeps_an_exception_and_odd_characters_on_one_line():
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        entry = record("crashed: %s", "ü \"quoted\"")
        entry.exc_info = sys.exc_info()
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == 'crashed: ü "quoted"'
    assert "ValueError: line one\nline two" in parsed["exception"]


def test_log_format_chooses_the_formatter(monkeypatch):
    assert isinstance(log_formatter("json"), JsonFormatter)
    assert not isinstance(log_formatter("text"), JsonFormatter)

    from services import cli

    installed = {}
    monkeypatch.setattr(logging, "basicConfig", lambda **options: installed.update(options))
    monkeypatch.setenv("LOG_FORMAT", "json")
    cli._configure_logging("INFO")
    assert isinstance(installed["handlers"][0].formatter, JsonFormatter)
    monkeypatch.setenv("LOG_FORMAT", "text")
    cli._configure_logging("INFO")
    assert not isinstance(installed["handlers"][0].formatter, JsonFormatter)


# --- locks and topics -----------------------------------------------------------------

def test_advisory_keys_are_stable_64_bit_and_distinct_per_service_and_purpose():
    keys = {(service, purpose): advisory_key(service, purpose)
            for service in ("registration", "tasks", "checkins", "appreciation", "console")
            for purpose in ("migrate", "sweep", "relay")}
    assert len(set(keys.values())) == len(keys)
    assert all(-2**63 <= key < 2**63 for key in keys.values())
    assert advisory_key("tasks", "sweep") == keys[("tasks", "sweep")]  # the same in every process


def described(topic: str, partitions: int, error_code: int = 0) -> dict:
    return {"topic": topic, "error_code": error_code,
            "partitions": [{"partition": p, "leader": 1} for p in range(partitions)]}


def test_which_existing_topics_differ_in_partition_count():
    topics = [described("shifts.completed", 3), described("volunteers.registered", 1),
              described("alerts.raised", 6), described("gone", 0, error_code=3)]
    assert kafka.partition_mismatches(topics, 3) == {"volunteers.registered": 1, "alerts.raised": 6}
    assert kafka.partition_mismatches(topics, 1) == {"shifts.completed": 3, "alerts.raised": 6}


def fake_admin(existing: dict[str, int], created: list, describe_fails: bool = False):
    class FakeAdmin:
        def __init__(self, **options):
            pass

        async def start(self):
            pass

        async def close(self):
            pass

        async def list_topics(self):
            return list(existing)

        async def create_topics(self, topics):
            created.extend(topics)

        async def describe_topics(self, topics):
            if describe_fails:
                raise RuntimeError("not allowed")
            return [described(t, existing[t]) for t in topics]

    return FakeAdmin


async def led(*args, **kwargs):
    pass


async def test_ensure_topics_uses_the_settings_and_warns_about_existing_topics(monkeypatch, caplog):
    created = []
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", fake_admin({"shifts.completed": 3, "tasks.x": 1}, created))
    monkeypatch.setattr(kafka, "_wait_until_led", led)
    caplog.set_level(logging.INFO, logger="shared.kafka")
    settings = load_settings(kafka_partitions=6, kafka_replication_factor=3)
    await kafka.ensure_topics(settings, ["shifts.completed", "tasks.x", "volunteers.registered"])
    assert [(t.name, t.num_partitions, t.replication_factor) for t in created] == [("volunteers.registered", 6, 3)]
    assert created[0].topic_configs == {"retention.ms": str(30 * 86_400_000)}  # PII retention as before
    warnings = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert warnings == [
        "topic shifts.completed has 3 partitions, KAFKA_PARTITIONS is 6; existing topics are left as they are",
        "topic tasks.x has 1 partitions, KAFKA_PARTITIONS is 6; existing topics are left as they are"]


async def test_ensure_topics_is_quiet_when_counts_match_and_never_fails_over_the_check(monkeypatch, caplog):
    monkeypatch.setattr(kafka, "_wait_until_led", led)
    caplog.set_level(logging.INFO, logger="shared.kafka")
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", fake_admin({"shifts.completed": 3}, []))
    await kafka.ensure_topics(load_settings(), ["shifts.completed"])
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", fake_admin({"shifts.completed": 1}, [], describe_fails=True))
    await kafka.ensure_topics(load_settings(), ["shifts.completed"])  # describing refused: start-up goes on
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- metrics -----------------------------------------------------------------------------

def test_metrics_are_labelled_with_the_service_and_kept_per_registry():
    tasks, checkins = ServiceMetrics("tasks"), ServiceMetrics("checkins")  # `run all`: one process, two registries
    for _ in range(3):
        tasks.consumed("dankjewel.shift.completed.v1")
    tasks.applied("dankjewel.shift.completed.v1")
    tasks.duplicate("dankjewel.shift.completed.v1")
    tasks.dead_lettered("shifts.completed", None)
    tasks.batch_took(0.02)
    tasks.sweep_took(1.5)
    seen = samples(tasks)
    shift = (("service", "tasks"), ("type", "dankjewel.shift.completed.v1"))
    assert seen[("dankjewel_events_consumed_total", shift)] == 3
    assert seen[("dankjewel_events_applied_total", shift)] == 1
    assert seen[("dankjewel_events_duplicate_total", shift)] == 1
    assert seen[("dankjewel_events_dead_lettered_total",
                 (("service", "tasks"), ("topic", "shifts.completed"), ("type", INVALID_TYPE)))] == 1
    assert seen[("dankjewel_consumer_batch_seconds_count", (("service", "tasks"),))] == 1
    assert seen[("dankjewel_sweep_seconds_sum", (("service", "tasks"),))] == 1.5
    assert not any(name == "dankjewel_events_consumed_total" for name, _ in samples(checkins))


async def test_outbox_gauges_count_rows_and_the_oldest_age(tmp_path):
    metadata = MetaData()
    tables = delivery_tables(metadata, "tasks")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/ops.db")
    now = datetime(2026, 11, 27, 12, tzinfo=timezone.utc)
    metrics = ServiceMetrics("tasks")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        await metrics.refresh(engine, tables.outbox, None, now=now)
        assert samples(metrics)[("dankjewel_outbox_backlog_rows", (("service", "tasks"),))] == 0
        assert samples(metrics)[("dankjewel_outbox_oldest_age_seconds", (("service", "tasks"),))] == 0
        async with engine.begin() as connection:
            await connection.execute(insert(tables.outbox), [
                {"topic": "shifts.completed", "key": b"v1", "value": b"{}", "headers": [],
                 "created_at": now - timedelta(seconds=age)} for age in (90, 30)])
        await metrics.refresh(engine, tables.outbox, None, now=now)
        assert samples(metrics)[("dankjewel_outbox_backlog_rows", (("service", "tasks"),))] == 2
        assert samples(metrics)[("dankjewel_outbox_oldest_age_seconds", (("service", "tasks"),))] == 90
    finally:
        await engine.dispose()


def test_the_wake_listener_connects_as_the_engine_does_tls_included():
    from shared.db import create_engine
    from shared.service import listener_connect_args

    engine = create_engine("postgresql+asyncpg://dankjewel:s3cret@db.example.org:6432/dankjewel"
                           "?ssl=require&prepared_statement_cache_size=0")
    assert listener_connect_args(engine) == {"host": "db.example.org", "port": 6432, "user": "dankjewel",
                                             "password": "s3cret", "database": "dankjewel", "ssl": "require"}
