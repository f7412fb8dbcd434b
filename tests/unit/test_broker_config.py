"""The pure parts of devtools.kafka: rendered config files, layout, env rules, jar cache."""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest

from claimflow.broker import external_bootstrap
from claimflow.broker.admin import topic_names
from claimflow.settings import Settings
from contracts.topics import PARTITIONS
from devtools.kafka import kraft, layout_for, maven
from devtools.testing.kafka import unique_prefix


def parse_properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


@pytest.fixture
def layout(tmp_path: Path) -> kraft.BrokerLayout:
    return kraft.BrokerLayout(port=29192, controller_port=29193, run_dir=tmp_path / "run")


def test_properties_single_node_kraft(layout: kraft.BrokerLayout) -> None:
    props = parse_properties(kraft.render_properties(layout))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29193"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29192"
    assert props["log.dirs"] == str(layout.data_dir)


def test_properties_tuned_for_one_broker_and_fast_tests(layout: kraft.BrokerLayout) -> None:
    props = parse_properties(kraft.render_properties(layout))
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"


def test_log4j2_is_quiet_and_writes_to_the_run_dir(layout: kraft.BrokerLayout) -> None:
    text = kraft.render_log4j2(layout.server_log)
    assert "rootLogger.level = WARN" in text
    assert f"appender.file.fileName = {layout.server_log}" in text


def test_pom_pins_kafka_and_a_log4j2_backend() -> None:
    pom = maven.render_pom("4.1.1")
    assert "<artifactId>kafka_2.13</artifactId>\n      <version>4.1.1</version>" in pom
    assert "log4j-core" in pom and "log4j-slf4j-impl" in pom


def test_cluster_id_looks_like_a_kafka_uuid() -> None:
    ids = {kraft.new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)
    # One random id in 64 starts with "-", which the storage tool reads as an option.
    assert not any(i.startswith("-") for i in ids)


def test_layout_defaults_follow_settings(tmp_path: Path) -> None:
    settings = Settings().model_copy(update={"home": tmp_path, "bootstrap_servers": "127.0.0.1:19555"})
    lay = layout_for(settings=settings)
    assert (lay.port, lay.controller_port) == (19555, 19556)
    assert lay.run_dir == tmp_path / "kafka" / "run-19555"
    assert lay.bootstrap == "127.0.0.1:19555"
    assert layout_for(29092, settings=settings).run_dir == tmp_path / "kafka" / "run-29092"


def test_external_bootstrap_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("CLAIMFLOW_BOOTSTRAP_SERVERS", raising=False)
    assert external_bootstrap() is None
    # A loopback address is our own broker's job, not an external cluster.
    monkeypatch.setenv("CLAIMFLOW_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    assert external_bootstrap() is None
    monkeypatch.setenv("CLAIMFLOW_BOOTSTRAP_SERVERS", "kafka:9092")
    assert external_bootstrap() == "kafka:9092"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "ci-kafka:9092,ci-kafka2:9092")
    assert external_bootstrap() == "ci-kafka:9092,ci-kafka2:9092"


def test_topic_names_carry_the_prefix_and_counts() -> None:
    names = topic_names("x.")
    assert names == {f"x.{t}": n for t, n in PARTITIONS.items()}


def test_unique_prefix_is_a_legal_distinct_topic_prefix() -> None:
    a, b = unique_prefix("test_x[sqlite]"), unique_prefix("test_x[sqlite]")
    assert a != b
    assert re.fullmatch(r"[A-Za-z0-9._-]+", a + "billing.charges")


def test_stale_pid_file_is_not_a_running_broker(layout: kraft.BrokerLayout) -> None:
    layout.run_dir.mkdir(parents=True)
    layout.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Kafka JVM
    assert kraft.read_pid(layout) is None
    assert kraft.stop(layout) is False
    assert not layout.pid_file.exists()


def _fake_mvn(bin_dir: Path, calls: Path) -> None:
    """An `mvn` that records each call and 'downloads' one jar into -DoutputDirectory."""
    script = bin_dir / "mvn"
    script.write_text(
        "#!/bin/sh\n"
        f'echo call >> "{calls}"\n'
        "sleep 0.3\n"
        'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done\n'
        'mkdir -p "$out" && touch "$out/kafka_2.13-9.9.9.jar"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_resolve_runs_maven_once_even_when_racing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    _fake_mvn(bin_dir, calls)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(maven.resolve_kafka(tmp_path, "9.9.9")))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls.read_text().count("call") == 1
    assert results == [tmp_path / "kafka" / "9.9.9" / "libs"] * 3
    assert (results[0] / "kafka_2.13-9.9.9.jar").exists()
    assert maven.is_resolved(tmp_path, "9.9.9")


def test_failed_resolve_leaves_no_half_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text("#!/bin/sh\necho 'Could not resolve dependencies' >&2\nexit 1\n")
    (bin_dir / "mvn").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(maven.ResolveError, match="Could not resolve"):
        maven.resolve_kafka(tmp_path, "0.0.1")
    assert not maven.is_resolved(tmp_path, "0.0.1")


def test_cli_offers_start_stop_status() -> None:
    from typer.testing import CliRunner

    from devtools.kafka.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("start", "stop", "status"):
        assert command in result.output
