"""Imports run one way: workers -> claimflow -> contracts; devtools (never shipped) on top.
Checked on the source, every import statement including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: package -> the top-level packages of the project it must not import
FORBIDDEN = {
    "contracts": {"claimflow", "workers", "devtools"},
    "claimflow": {"workers", "devtools"},
    "workers": {"devtools"},
}
#: The composition root: the command that mounts and runs every worker, and the one list of
#: every worker's tables for alembic. They may name workers (never devtools: the CLI mounts
#: those commands by name, only when the package is there).
ENTRY_POINTS = {"claimflow/cli.py", "claimflow/__main__.py", "claimflow/schema.py"}


def imported(path: Path) -> set[str]:
    """The top-level package of every absolute import in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def violations(package: str) -> list[str]:
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        forbidden = FORBIDDEN[package] - ({"workers"} if name in ENTRY_POINTS else set())
        out += [f"{name} imports {top}" for top in sorted(imported(path) & forbidden)]
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from devtools.sample import generate_charges\n    import workers.post\n")
    assert imported(source) == {"devtools", "workers"}
