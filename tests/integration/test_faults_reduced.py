"""The fault suite in reduced size (`make faults` runs it with 10,000 events per
scenario): every scenario must lose nothing, send nothing twice, crash nothing and
dead-letter every bad record."""

import os
import subprocess
import sys

from faults.__main__ import SCENARIOS
from tests.infra import ROOT


def test_every_fault_scenario_passes_in_reduced_size():
    # Its own broker and database (it restarts the broker and deletes topics).
    # Ports of its own too, so it never touches a `make faults` running beside it.
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env |= {"FAULTS_KAFKA_PORT": "29292", "FAULTS_PG_PORT": "25533"}
    result = subprocess.run([sys.executable, "-m", "faults", "--events", "300", "--malformed", "30",
                             "--scenario-timeout", "240"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1500)
    print(result.stdout[-5000:], result.stderr[-3000:])
    rows = [line for line in result.stdout.splitlines() if line.split(" ")[0] in SCENARIOS]
    assert [row.split()[0] for row in rows] == list(SCENARIOS)
    assert all(row.endswith("PASS") for row in rows), "\n".join(rows)
    assert "volunteer names or addresses found in service logs: 0" in result.stdout
    assert result.returncode == 0
