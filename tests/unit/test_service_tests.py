"""Every service module is tested directly: some file in tests/services imports it (usually test_<module>.py)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_services(path: Path) -> set[str]:
    """The zipshort.services modules ``path`` imports (``from zipshort.services import x``, ``…services.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "zipshort.services":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zipshort.services."):
            found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("zipshort.services."))
    return found


def test_every_service_module_is_imported_by_a_service_test():
    modules = {p.stem for p in (ROOT / "zipshort" / "services").glob("*.py") if p.stem != "__init__"}
    tested: set[str] = set()
    for path in (ROOT / "tests" / "services").glob("test_*.py"):
        tested |= _imported_services(path)
    assert modules <= tested, f"no direct tests in tests/services for: {sorted(modules - tested)}"
