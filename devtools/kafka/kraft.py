"""One combined broker+controller in KRaft mode: configuration files and the JVM process.

Everything for one broker lives in its run directory (`<home>/kafka/run-<port>/`):
server.properties, log4j2.properties, data/ (the log dirs and KRaft metadata), kafka.pid,
kafka.out (the JVM's stdout/stderr) and server.log (the broker's own WARN-level log).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from claimflow.logs import get_logger

log = get_logger(__name__)

#: A 2-core dev box also runs the workers and the tests: keep the JVM small. SerialGC has
#: no background GC threads competing for the two cores, and a 512 MB heap is plenty for
#: the tiny volumes of dev and test.
DEFAULT_JVM_OPTS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
)


class BrokerError(RuntimeError):
    """The broker could not be formatted, started or stopped."""


@dataclass(frozen=True)
class BrokerSecurity:
    """A SASL_SSL listener (TLS, SCRAM-SHA-512) in place of the PLAINTEXT one.

    The controller listener stays PLAINTEXT: it is bound to loopback and only the broker
    itself talks to it. SCRAM users are written into the cluster's metadata when the
    storage is formatted; the first one is also the broker's own inter-broker login.
    """

    #: PEM file holding the server's private key (PKCS#8) and its certificate chain.
    keystore: Path
    #: PEM file with the CA certificate(s) the broker trusts (for its own inter-broker link).
    truststore: Path
    #: (user, password) pairs; never in a repr, since layouts end up in log lines.
    users: tuple[tuple[str, str], ...] = field(repr=False)
    mechanism: str = "SCRAM-SHA-512"

    @property
    def listener(self) -> str:
        return "SASL_SSL"


@dataclass(frozen=True)
class BrokerLayout:
    """Where one broker keeps its files and which ports it listens on."""

    port: int
    controller_port: int
    run_dir: Path
    host: str = "127.0.0.1"
    node_id: int = 1
    security: BrokerSecurity | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def properties_file(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def log4j_file(self) -> Path:
        return self.run_dir / "log4j2.properties"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def out_file(self) -> Path:
        return self.run_dir / "kafka.out"

    @property
    def server_log(self) -> Path:
        return self.run_dir / "server.log"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / ".start.lock"


def default_run_dir(home: Path, port: int) -> Path:
    return home / "kafka" / f"run-{port}"


def render_properties(layout: BrokerLayout) -> str:
    """server.properties for a single-node cluster tuned for fast start and fast tests."""
    listener = layout.security.listener if layout.security else "PLAINTEXT"
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": layout.node_id,
        # A static one-voter quorum: formats the same way on Kafka 3.9 and 4.x and never
        # needs reconfiguring, which is all a one-node dev cluster wants.
        "controller.quorum.voters": f"{layout.node_id}@{layout.host}:{layout.controller_port}",
        "listeners": (
            f"{listener}://{layout.host}:{layout.port},CONTROLLER://{layout.host}:{layout.controller_port}"
        ),
        "advertised.listeners": f"{listener}://{layout.host}:{layout.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": listener,
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{listener}:{listener}",
        "log.dirs": str(layout.data_dir),
        # Topics are created explicitly from contracts/topics.py; a typo must fail loudly
        # instead of silently creating a one-partition topic.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        "offsets.topic.replication.factor": 1,
        # Fewer internal partitions: the first consumer group comes up faster.
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 4,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # No waiting for more members: tests and dev start one consumer at a time.
        "group.initial.rebalance.delay.ms": 0,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "background.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.retention.hours": 168,
        "log.segment.bytes": 64 * 1024 * 1024,
        "delete.topic.enable": "true",
    }
    if layout.security is not None:
        props.update(security_properties(layout.security))
    lines = ["# Written by devtools.kafka; edits are overwritten on the next start."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def security_properties(security: BrokerSecurity) -> dict[str, str | int]:
    mechanism = security.mechanism
    user, password = security.users[0]
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{user}" password="{password}";'
    )
    return {
        "sasl.enabled.mechanisms": mechanism,
        "sasl.mechanism.inter.broker.protocol": mechanism,
        f"listener.name.{security.listener.lower()}.{mechanism.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(security.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(security.truststore),
        # No client certificates: clients prove who they are with SCRAM over TLS.
        "ssl.client.auth": "none",
    }


def scram_arguments(security: BrokerSecurity | None) -> list[str]:
    """kafka-storage's --add-scram options: the users exist from the cluster's first start."""
    if security is None:
        return []
    out: list[str] = []
    for user, password in security.users:
        out += ["--add-scram", f"{security.mechanism}=[name={user},password={password}]"]
    return out


def render_log4j2(server_log: Path) -> str:
    """log4j2 config: WARN and above to a size-capped file, plus the 'started' line."""
    return "\n".join(
        [
            "status = warn",
            "name = claimflow-broker",
            # The file appender flushes every line, so log4j needs no shutdown hook; with
            # one, a logger first touched during shutdown prints a warning to kafka.out.
            "shutdownHook = disable",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {server_log}",
            f"appender.file.filePattern = {server_log}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 10MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = WARN",
            "rootLogger.appenderRef.file.ref = file",
            # One INFO logger so the log says when the server finished starting.
            "logger.raft.name = kafka.server.KafkaRaftServer",
            "logger.raft.level = INFO",
            "",
        ]
    )


def new_cluster_id() -> str:
    """A Kafka Uuid as the broker prints it: url-safe base64 of 16 random bytes, unpadded.

    Never one that starts with "-": the storage tool would read it as an option and fail
    ("argument --cluster-id/-t: expected one argument"), one format in 64. Kafka's own
    Uuid.randomUuid() draws again for the same reason.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise BrokerError("java is not on PATH; install Java 17 (Debian: openjdk-17-jre-headless)")
    return java


def classpath(libs: Path) -> str:
    return f"{libs}/*"


def write_config(layout: BrokerLayout) -> None:
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    # It may hold the broker's SCRAM password: readable by its owner only.
    layout.properties_file.touch(mode=0o600, exist_ok=True)
    layout.properties_file.chmod(0o600)
    layout.properties_file.write_text(render_properties(layout))
    layout.log4j_file.write_text(render_log4j2(layout.server_log))


def is_formatted(layout: BrokerLayout) -> bool:
    return (layout.data_dir / "meta.properties").exists()


def format_storage(libs: Path, layout: BrokerLayout) -> None:
    """Format the KRaft log dir once; a formatted dir keeps its cluster id and data."""
    if is_formatted(layout):
        return
    cmd = [
        java_executable(),
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={layout.log4j_file}",
        "-cp",
        classpath(libs),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        new_cluster_id(),
        "-c",
        str(layout.properties_file),
        "--ignore-formatted",
        *scram_arguments(layout.security),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()[-2000:]
        for _, password in layout.security.users if layout.security else ():
            output = output.replace(password, "***")
        raise BrokerError(f"kafka storage format failed: {output}")
    log.info("kafka.storage.formatted", data_dir=str(layout.data_dir))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(layout: BrokerLayout) -> int | None:
    """The pid of this layout's broker if it runs; a stale pid file (reused pid) is ignored."""
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    if "kafka.Kafka" in cmd and str(layout.properties_file) in cmd:
        return pid
    return None


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def spawn(libs: Path, layout: BrokerLayout, jvm_opts: tuple[str, ...] = DEFAULT_JVM_OPTS) -> int:
    """Start the JVM in the background (own session, so a Ctrl-C aimed at the caller's
    terminal does not kill it half-way; stopping is `stop()`'s job). Returns the pid."""
    cmd = [
        java_executable(),
        *jvm_opts,
        f"-Dlog4j2.configurationFile={layout.log4j_file}",
        f"-Dkafka.logs.dir={layout.run_dir}",
        "-cp",
        classpath(libs),
        "kafka.Kafka",
        str(layout.properties_file),
    ]
    with layout.out_file.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=layout.run_dir,
            start_new_session=True,
            close_fds=True,
        )
    layout.pid_file.write_text(f"{proc.pid}\n")
    log.info("kafka.broker.spawned", pid=proc.pid, bootstrap=layout.bootstrap)
    return proc.pid


def pid_alive(pid: int) -> bool:
    # Our own child becomes a zombie when it dies: reap it so it does not look alive.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(layout: BrokerLayout, timeout: float = 30.0) -> bool:
    """SIGTERM (Kafka's controlled shutdown), then SIGKILL after `timeout`. True if it ran."""
    pid = read_pid(layout)
    if pid is None:
        layout.pid_file.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        time.sleep(0.2)
    else:
        log.warning("kafka.broker.kill", pid=pid, after_seconds=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while pid_alive(pid):
            time.sleep(0.1)
    layout.pid_file.unlink(missing_ok=True)
    log.info("kafka.broker.stopped", pid=pid, bootstrap=layout.bootstrap)
    return True
