"""Table-driven tests of the services' pure rules."""

from datetime import datetime, timedelta, timezone

import pytest

from services.checkins import domain as checkins
from services.registration import domain as registration
from services.tasks import domain as tasks

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("shifts", "count", "hours"), [
    ([], 0, 0.0),
    ([(T0, T0 + timedelta(hours=3))], 1, 3.0),
    ([(T0, T0 + timedelta(hours=2, minutes=30)), (T0 + timedelta(days=7), T0 + timedelta(days=7, hours=1))], 2, 3.5),
])
def test_shift_summary(shifts, count, hours):
    summary = tasks.summarise(shifts)
    assert (summary.shifts, summary.hours) == (count, hours)
    if shifts:
        assert summary.first_shift_at == T0


@pytest.mark.parametrize(("clock_started", "held", "closes"), [
    (T0, T0 + timedelta(days=1), True), (T0, T0, True), (T0, T0 - timedelta(days=1), False),
])
def test_a_checkin_closes_only_a_clock_started_before_it(clock_started, held, closes):
    assert checkins.closes_clock(clock_started, held) is closes


@pytest.mark.parametrize(("raw", "clean"), [
    ("Henk de Vries", "Henk de Vries"),
    ("  Anne-Marie  ", "Anne-Marie"),
    ("Evil\r\nBcc: all@example.org", "Evil Bcc: all@example.org"),
    ("Zoë 'Jo' O'Neill", "Zoë 'Jo' O'Neill"),
])
def test_names_lose_control_characters(raw, clean):
    assert registration.clean_name(raw) == clean
