"""Benchmark of the appreciation pipeline on a single-node Kafka broker and
PostgreSQL on loopback: `python -m bench [--quick]`. See docs/benchmarks.md."""
