"""docker-compose.yml is checked by Docker Compose's own parser (no engine needed)."""

import subprocess
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[2]
# The binary itself: the package's Python wrapper exits 0 even when validation fails.
BINARY = Path(compose.__file__).parent / "docker-compose"


def config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BINARY), "-f", str(path), "config", "-q"], capture_output=True, text=True)


def test_compose_file_is_valid() -> None:
    result = config(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stderr


def test_the_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  x:\n    image: 3\n    depends_on: [nope]\n")
    assert config(broken).returncode != 0


def test_every_worker_has_a_service() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("formatter", "posting", "reprocess", "report", "kafka", "postgres"):
        assert f"\n  {name}:\n" in text
