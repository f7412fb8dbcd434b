"""A throwaway PostgreSQL server for tests: Debian's server binaries in a temp directory.

    with postgres_server() as url:   # postgresql://postgres@127.0.0.1:PORT/claimflow_test
        ...

PostgreSQL refuses to run as root, so as root every server command runs as the `postgres`
system user (created if missing) and the temp directory belongs to it. Authentication is
`trust`, and the server listens on 127.0.0.1 only, so nothing outside this machine sees it.
Durability is switched off (fsync, full_page_writes): the data dies with the test run anyway.

    start_postgres(tls=server_cert, password="...")   # ssl=on, TCP only over TLS, password auth

With `tls` the server presents that certificate and refuses TCP connections without TLS
(pg_hba `hostssl`); with `password` TCP logins need it (scram-sha-256).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from claimflow.logs import get_logger
from devtools.testing.certs import CertFiles
from devtools.testing.ports import free_port

log = get_logger(__name__)

ENV_URL = "CLAIMFLOW_TEST_POSTGRES_URL"
DEFAULT_DATABASE = "claimflow_test"
PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries, or the server would not start."""


def find_bin_dir() -> Path | None:
    """The newest Debian server install (/usr/lib/postgresql/<ver>/bin), or $PG_BIN."""
    explicit = os.environ.get("PG_BIN")
    if explicit and (Path(explicit) / "initdb").exists():
        return Path(explicit)
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.parent.name.split(".") if x.isdigit())

    return max(candidates, key=version) if candidates else None


def _as_root() -> bool:
    return os.geteuid() == 0


def ensure_pg_user() -> None:
    """Create the `postgres` system user when it is missing (only needed as root)."""
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/bin/sh", PG_USER],
            check=True,
            capture_output=True,
        )
        log.info("postgres.user.created", user=PG_USER)


def _run_as_pg(cmd: Sequence[str], cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    full = ["runuser", "-u", PG_USER, "--", *cmd] if _as_root() else list(cmd)
    return subprocess.run(
        full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _chown_to_pg(path: Path) -> None:
    if _as_root():
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class PostgresServer:
    """One running server; `stop()` shuts it down and deletes its directory."""

    bin_dir: Path
    base_dir: Path
    port: int
    database: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    password: str | None = field(default=None, repr=False)
    tls: CertFiles | None = None
    #: Small for test servers (many run at once); the bench's report rung gives its server
    #: what a production database has for a working set of that size.
    shared_buffers: str = "32MB"
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def url(self) -> str:
        return self._url(self.database)

    def admin_url(self) -> str:
        return self._url("postgres")

    def _url(self, database: str) -> str:
        login = f"{PG_USER}:{self.password}" if self.password else PG_USER
        # Encrypted but not verified: callers that test verification add their own sslmode.
        query = "?sslmode=require" if self.tls else ""
        return f"postgresql://{login}@{self.host}:{self.port}/{database}{query}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.data_dir.exists():
            proc = _run_as_pg(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
                cwd=self.base_dir,
                timeout=60,
            )
            if proc.returncode != 0:
                self._kill_postmaster()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        log.info("postgres.stopped", port=self.port)

    def pause(self) -> None:
        """Shut the server down but keep its data, to play a database outage (tests/faults);
        `resume()` brings it back on the same port with the same data."""
        proc = _run_as_pg(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"],
            cwd=self.base_dir,
            timeout=60,
        )
        if proc.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl stop failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")
        log.info("postgres.paused", port=self.port)

    def resume(self) -> None:
        proc = _pg_ctl_start(self)
        if proc.returncode != 0:
            raise PostgresUnavailable(
                f"pg_ctl start failed: {(proc.stdout + proc.stderr).strip()[-2000:]}\n{_tail(self.log_file)}"
            )
        log.info("postgres.resumed", port=self.port)

    def _kill_postmaster(self) -> None:
        # pg_ctl could not stop it (e.g. it never finished starting): kill by pid file.
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGQUIT)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)


def _initdb(bin_dir: Path, base: Path, password: str | None = None) -> None:
    auth = ["--auth=trust"]
    if password is not None:
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        _chown_to_pg(pwfile)
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    try:
        proc = _run_as_pg(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(base / "data"),
                "-U",
                PG_USER,
                *auth,
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=base,
        )
    finally:
        (base / "pwfile").unlink(missing_ok=True)
    if proc.returncode != 0:
        raise PostgresUnavailable(f"initdb failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")


def _install_tls(base: Path, tls: CertFiles) -> None:
    """Copy the server's certificate and key where the server user can read them (the key
    0600, or PostgreSQL refuses it) and make TCP logins TLS-only (_pg_ctl_start turns ssl on)."""
    directory = base / "tls"
    directory.mkdir()
    _chown_to_pg(directory)
    cert, key = directory / "server.pem", directory / "server.key"
    shutil.copyfile(tls.cert, cert)
    shutil.copyfile(tls.key, key)
    key.chmod(0o600)
    for path in (cert, key):
        _chown_to_pg(path)
    hba = base / "data" / "pg_hba.conf"
    lines = hba.read_text().splitlines()
    hba.write_text("\n".join("hostssl" + ln[4:] if ln.startswith("host ") else ln for ln in lines) + "\n")


def _pg_ctl_start(server: PostgresServer) -> subprocess.CompletedProcess[str]:
    tls = (
        [
            "-c ssl=on",
            f"-c ssl_cert_file={server.base_dir / 'tls' / 'server.pem'}",
            f"-c ssl_key_file={server.base_dir / 'tls' / 'server.key'}",
        ]
        if server.tls
        else []
    )
    options = " ".join(
        [
            *tls,
            f"-p {server.port}",
            f"-h {server.host}",
            f"-k {server.base_dir}",  # our own socket dir: /var/run/postgresql may not exist
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=100",
            f"-c shared_buffers={server.shared_buffers}",
        ]
    )
    return _run_as_pg(
        [
            str(server.bin_dir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-l",
            str(server.log_file),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        cwd=server.base_dir,
    )


def _create_database(server: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(server.admin_url(), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{server.database}"')


def start_postgres(
    database: str = DEFAULT_DATABASE,
    attempts: int = 3,
    *,
    tls: CertFiles | None = None,
    password: str | None = None,
    shared_buffers: str = "32MB",
) -> PostgresServer:
    """initdb + pg_ctl start on a free loopback port, then create `database`."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin "
            "(Debian: apt-get install postgresql), and CLAIMFLOW_TEST_POSTGRES_URL is not set"
        )
    if _as_root():
        ensure_pg_user()
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="claimflow-pg-"))
    _chown_to_pg(base)
    try:
        _initdb(bin_dir, base, password)
        if tls is not None:
            _install_tls(base, tls)
        last = ""
        for _ in range(attempts):
            # The port is only reserved until we close the probe socket: on a race with
            # another process, try a fresh one.
            server = PostgresServer(
                bin_dir=bin_dir,
                base_dir=base,
                port=free_port(),
                database=database,
                password=password,
                tls=tls,
                shared_buffers=shared_buffers,
            )
            proc = _pg_ctl_start(server)
            if proc.returncode == 0:
                break
            last = (proc.stdout + proc.stderr).strip() + "\n" + _tail(server.log_file)
        else:
            raise PostgresUnavailable(f"pg_ctl start failed: {last[-2000:]}")
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    try:
        _create_database(server)
    except BaseException:
        server.stop()
        raise
    # A test run killed by Ctrl-C must not leave a postmaster behind.
    atexit.register(server.stop)
    log.info("postgres.started", port=server.port, seconds=round(time.monotonic() - started, 1))
    return server


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def postgres_server(database: str = DEFAULT_DATABASE) -> Iterator[str]:
    """Yield a database URL: CLAIMFLOW_TEST_POSTGRES_URL if set, else a fresh temp server."""
    explicit = os.environ.get(ENV_URL)
    if explicit:
        yield explicit
        return
    server = start_postgres(database)
    try:
        yield server.url
    finally:
        server.stop()
