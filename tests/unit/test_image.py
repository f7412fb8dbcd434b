"""The image: it ships the runtime only, runs as a user of its own, and that user can write
the home the image configures. No Docker engine is needed: the Dockerfile's values are read
and the installed layout is rebuilt in a temporary folder (as root, the check runs as the
image's uid through setpriv; otherwise as the current user)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> dict[str, list[str]]:
    """Each instruction of the Dockerfile -> its arguments, in order (continuations joined)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word.upper(), []).append(rest.strip())
    return out


def image_values() -> tuple[str, int, int, str]:
    """(CLAIMFLOW_HOME, uid, gid, the user's home) as the Dockerfile sets them."""
    found = dockerfile()
    env = dict(shlex.split(e)[0].split("=", 1) for e in found["ENV"])
    uid, _, gid = found["USER"][-1].partition(":")
    useradd = next(shlex.split(r) for r in found["RUN"] if "useradd" in r)
    user_home = useradd[useradd.index("--home-dir") + 1]
    return env["CLAIMFLOW_HOME"], int(uid), int(gid or uid), user_home


def test_the_image_runs_as_a_user_of_its_own_whose_home_is_claimflow_home() -> None:
    home, uid, gid, user_home = image_values()
    assert uid != 0 and gid != 0
    assert f"--uid {uid}" in " ".join(dockerfile()["RUN"])
    assert home == user_home == "/var/lib/claimflow"
    assert dockerfile()["WORKDIR"][-1] == home
    # The runtime only: the developer tooling is never copied in.
    assert not any("devtools" in c for c in dockerfile()["COPY"])


def test_the_wheel_ships_the_runtime_only() -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    shipped = set(find_packages(str(ROOT), include=find["include"], exclude=find.get("exclude", ())))
    assert {"claimflow", "claimflow.broker", "contracts", "workers.formatter"} <= shipped
    assert not {p for p in shipped if p.split(".")[0] in ("devtools", "tests", "bench")}


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A folder the image's user can traverse (pytest's own tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="claimflow-image-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_configured_home_is_writable_by_the_image_user(image_root: Path) -> None:
    """The installed package (no checkout around it), CLAIMFLOW_HOME as the image sets it
    (moved under a temporary folder), owned and used by the image's user: settings resolve there and
    the user writes a file and the default SQLite database in it."""
    _, uid, gid, _ = image_values()
    app = image_root / "app"  # what `pip install .` puts in site-packages: the packages only
    for package in ("claimflow", "contracts", "workers"):
        shutil.copytree(ROOT / package, app / package, ignore=shutil.ignore_patterns("__pycache__"))
    home = image_root / "var-lib-claimflow"
    home.mkdir(mode=0o750)
    as_root = os.geteuid() == 0
    run_as: list[str] = []
    if as_root:
        os.chown(home, uid, gid)
        run_as = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    probe = (
        "from pathlib import Path\n"
        "from sqlalchemy import create_engine, text\n"
        "import claimflow.settings as s\n"
        "assert not s.CHECKOUT, s.ROOT\n"
        "settings = s.Settings()\n"
        "(settings.home / 'logs').mkdir()\n"
        "(settings.home / 'logs' / 'probe.log').write_text('ok')\n"
        "with create_engine(settings.database_url).begin() as c:\n"
        "    c.execute(text('CREATE TABLE probe (x INTEGER)'))\n"
        "print(settings.home, settings.database_url)\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(app),
        "PYTHONDONTWRITEBYTECODE": "1",
        "CLAIMFLOW_HOME": str(home),
    }
    result = subprocess.run(
        [*run_as, sys.executable, "-c", probe], cwd=home, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(home), f"sqlite:///{home / 'claimflow.db'}"]
    assert (home / "claimflow.db").is_file()
    if as_root:
        assert (home / "claimflow.db").stat().st_uid == uid


def test_without_devtools_the_cli_has_the_runtime_commands_only() -> None:
    """As in the image: the developer commands are not mounted, the rest is all there."""
    probe = (
        "import sys\n"
        "sys.modules['devtools'] = None  # not installed\n"
        "from claimflow.cli import app\n"
        "print(' '.join(sorted(g.name for g in app.registered_groups if g.name)))\n"
        "commands = [c.name or c.callback.__name__ for c in app.registered_commands if c.callback]\n"
        "print(' '.join(sorted(commands)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    groups, commands = (line.split() for line in result.stdout.splitlines())
    assert "kafka" not in groups and "demo" not in groups
    assert {"db", "bills", "report", "x12", "dead-letters", "remittances"} <= set(groups)
    assert {"worker", "status", "topics"} <= set(commands)
