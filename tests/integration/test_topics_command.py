"""`claimflow topics`: what a deployment runs once against its cluster (the compose file's
`topics` service), without the development broker tooling."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from claimflow.broker import admin, run_sync
from contracts.topics import PARTITIONS
from devtools.testing.kafka import delete_topics, unique_prefix

pytestmark = pytest.mark.integration


def test_topics_creates_the_missing_topics_once(kafka_bootstrap: str) -> None:
    prefix = unique_prefix("topics-cmd")
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {"CLAIMFLOW_BOOTSTRAP_SERVERS": kafka_bootstrap, "CLAIMFLOW_TOPIC_PREFIX": prefix}
    command = [sys.executable, "-m", "claimflow", "topics"]
    names = [f"{prefix}{name}" for name in PARTITIONS]
    try:
        first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        assert f"topics are in place at {kafka_bootstrap}" in first.stdout
        assert set(names) <= set(run_sync(admin.list_topics(kafka_bootstrap)))
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
    finally:
        delete_topics(kafka_bootstrap, names, external=True)
