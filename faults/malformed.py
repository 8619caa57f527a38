"""Malformed records, fuzzed with hypothesis: broken JSON, wrong types, huge fields,
unknown types, bad encodings. Each must end on a dead-letter topic."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults.mix import Record

TOPICS = ["volunteers.registered", "shifts.completed", "checkins.completed"]

_envelope = st.fixed_dictionaries({"specversion": st.just("1.0"), "id": st.uuids().map(str),
                                   "source": st.just("https://fuzz.example.org")})

_broken = st.one_of(
    st.binary(min_size=1, max_size=300).filter(lambda b: not b.strip().startswith(b"{")),   # not JSON at all
    st.text(max_size=200).map(lambda t: ("{" + t).encode("utf-8", "replace")),              # broken JSON
    st.binary(min_size=2, max_size=100).map(lambda b: b"\xff\xfe" + b),                      # bad encoding
    _envelope.map(lambda e: json.dumps(e | {"type": "com.example.unknown.v1", "data": {}}).encode()),  # unknown type
    _envelope.map(lambda e: json.dumps(e | {"type": "dankjewel.shift.completed.v1",                  # wrong types
                                            "data": {"volunteer_id": 12, "shift_id": [], "started_at": "gisteren",
                                                     "ended_at": None}}).encode()),
    _envelope.map(lambda e: json.dumps(e | {"type": "dankjewel.volunteer.registered.v1",             # huge fields
                                            "data": {"volunteer_id": "x" * 5000, "name": "n" * 100_000,
                                                     "email": "not-an-address", "language": "xx",
                                                     "registered_at": "2026-01-01T00:00:00Z"}}).encode()),
    _envelope.map(lambda e: json.dumps({k: v for k, v in e.items() if k != "id"}                     # no id
                                       | {"type": "dankjewel.shift.completed.v1", "data": {}}).encode()),
)


def malformed_records(count: int, seed: int) -> list[Record]:
    found: list[bytes] = []

    @settings(max_examples=count, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(_broken)
    def collect(value: bytes) -> None:
        found.append(value)

    collect()
    values = (found * (count // max(1, len(found)) + 1))[:count]
    return [Record(TOPICS[(seed + i) % len(TOPICS)], f"fuzz-{i}".encode(), value) for i, value in enumerate(values)]
