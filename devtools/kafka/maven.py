"""Resolve Apache Kafka's own broker jars from Maven Central, once, into a local cache.

The cache is `<home>/kafka/<version>/libs`. A finished cache carries a marker file, so a
half-copied directory (interrupted download) is never mistaken for a good one, and a lock
file serialises two processes that resolve at the same time (e.g. `make run` beside
`make test`).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from claimflow.logs import get_logger

log = get_logger(__name__)

#: Kafka 3.9 and 4.x both log through slf4j 1.7 with log4j2 as the backend (that is what
#: the official distribution ships in libs/); the slf4j-1 binding matches that API.
LOG4J_VERSION = "2.24.3"

MARKER = ".resolved"

POM_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by devtools.kafka.maven: only used to resolve the broker's runtime jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>claimflow.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>{kafka_version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j_version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j_version}</version>
    </dependency>
  </dependencies>
</project>
"""


class ResolveError(RuntimeError):
    """Maven could not produce the broker's jars (no network, no mvn, unknown version)."""


def render_pom(kafka_version: str, log4j_version: str = LOG4J_VERSION) -> str:
    return POM_TEMPLATE.format(kafka_version=kafka_version, log4j_version=log4j_version)


def cache_dir(home: Path, kafka_version: str) -> Path:
    return home / "kafka" / kafka_version


def libs_dir(home: Path, kafka_version: str) -> Path:
    return cache_dir(home, kafka_version) / "libs"


def is_resolved(home: Path, kafka_version: str) -> bool:
    return (libs_dir(home, kafka_version) / MARKER).exists()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the block; released even if the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def resolve_kafka(home: Path, kafka_version: str, *, timeout: float = 900.0) -> Path:
    """Return the directory of the broker's jars, downloading them on first use."""
    return copy_dependencies(
        cache_dir(home, kafka_version),
        render_pom(kafka_version),
        expect_jar=f"kafka_2.13-{kafka_version}.jar",
        label=f"kafka_2.13:{kafka_version}",
        timeout=timeout,
    )


def copy_dependencies(base: Path, pom: str, *, expect_jar: str, label: str, timeout: float = 900.0) -> Path:
    """Resolve `pom`'s runtime dependencies into `base/libs` once; return that directory.

    Safe when several processes race (a lock file), and never leaves a half-filled libs
    directory behind (Maven writes into a staging directory that is renamed at the end).
    """
    libs = base / "libs"
    if (libs / MARKER).exists():
        return libs
    with file_lock(base / ".resolve.lock"):
        # Someone else may have finished while we waited for the lock.
        if (libs / MARKER).exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ResolveError("Maven (mvn) is not on PATH; install it (Debian: apt-get install maven)")
        (base / "pom.xml").write_text(pom)
        staging = base / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log.info("maven.resolve.start", artifact=label, into=str(libs))
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(base / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging.resolve()}",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ResolveError(f"mvn did not finish within {timeout:.0f}s") from exc
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
            raise ResolveError(f"mvn failed (exit {proc.returncode}) resolving {label}:\n" + "\n".join(tail))
        if not any(staging.glob(expect_jar)):
            raise ResolveError(f"mvn finished but {expect_jar} is missing")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (libs / MARKER).write_text(label + "\n")
        log.info("maven.resolve.done", artifact=label, jars=len(list(libs.glob("*.jar"))))
    return libs
