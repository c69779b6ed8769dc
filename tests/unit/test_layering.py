"""ARCHITECTURE.md's layering: no import points up, and services never touch Flask's request machinery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "zipshort"

# Rank of each layer; a module may import only modules of the same or a lower rank.
LAYERS = {
    "config": 0, "errors": 0, "events": 0, "faults": 0, "extensions": 0, "periodic": 0, "dates": 0, "inputs": 0,
    "security": 1, "codes": 1, "counters": 1, "destinations": 1, "database": 1, "ratelimit": 1, "runtime": 1,
    "models": 1, "storage": 1, "outbound": 1, "eventlog": 1,
    "services": 2,
    "auth": 3, "errorhandlers": 3, "http": 3, "urls": 3,
    "api": 4, "web": 4, "public": 4, "migrations": 4,
    "__init__": 5, "__main__": 5, "cli": 5, "serving": 5,  # entry points assemble the app
}


def layer_of(module: str) -> tuple[str, int]:
    head = module.split(".")[1] if module.count(".") else "__init__"
    return head, LAYERS[head]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path


def imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda v: str(v))
def test_imports_never_point_up(name, path):
    if name == "zipshort":
        return
    own_head, own_rank = layer_of(name)
    for target in imports(path):
        if not target.startswith("zipshort.") and target != "zipshort":
            continue
        head, rank = layer_of(target)
        assert rank <= own_rank, f"{name} (layer {own_head}) imports {target} (layer {head})"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in modules() if ".services" in n], ids=str)
def test_services_do_not_import_flask(name, path):
    offenders = [t for t in imports(path) if t == "flask" or t.startswith("flask.") or t == "flask_login"]
    assert not offenders, f"{name} imports {offenders}"
