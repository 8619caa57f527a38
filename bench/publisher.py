"""The latency phase's load: first shifts at a fixed rate, published from their own
process like an organisation's system would (so the service under test does not
delay its own load). `python -m bench.publisher BOOTSTRAP RATE ENDED_AT`, one
volunteer id per line on stdin; prints `<volunteer id> <time.monotonic()>` just
before each send and `offered <events/s>` at the end."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime


async def publish(bootstrap: str, rate: float, ended_at: datetime, volunteer_ids: list[str]) -> None:
    from aiokafka import AIOKafkaProducer

    from bench.run import shift_event

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        start = time.perf_counter()
        for i, volunteer_id in enumerate(volunteer_ids):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            value, headers = shift_event(volunteer_id, ended_at)
            print(volunteer_id, f"{time.monotonic():.6f}", flush=True)
            futures.append(await producer.send("shifts.completed", value=value, key=volunteer_id.encode(),
                                               headers=headers))
        await asyncio.gather(*futures)
        print("offered", f"{len(volunteer_ids) / (time.perf_counter() - start):.3f}", flush=True)
    finally:
        await producer.stop()


if __name__ == "__main__":
    bootstrap, rate, ended_at = sys.argv[1], float(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    asyncio.run(publish(bootstrap, rate, ended_at, sys.stdin.read().split()))
