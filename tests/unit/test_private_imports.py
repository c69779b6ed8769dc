"""Private helpers stay private: no module of the package imports another module's underscored name,
neither ``from zipshort.x import _name`` nor ``x._name`` through an imported module."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "zipshort"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def absolute(node: ast.ImportFrom, me: str, is_package: bool) -> str:
    """The module an ImportFrom names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = me.split(".") if is_package else me.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def cross_module_private_uses(source: str, me: str, is_package: bool = False) -> list[str]:
    """Every use in ``source`` (the module ``me``) of another zipshort module's underscored name."""
    found, modules = [], {}  # local name -> zipshort module it stands for
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            origin = absolute(node, me, is_package)
            if not origin.startswith("zipshort"):
                continue
            for alias in node.names:
                if f"{origin}.{alias.name}" in MODULES:
                    modules[alias.asname or alias.name] = f"{origin}.{alias.name}"
                elif private(alias.name) and origin != me:
                    found.append(f"line {node.lineno}: from {origin} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("zipshort"):
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            target = dotted(node.value, modules)
            if target is not None and target != me:
                found.append(f"line {node.lineno}: {target}.{node.attr}")
    return found


def dotted(node: ast.expr, modules: dict[str, str]) -> str | None:
    """The zipshort module an expression like ``x`` or ``zipshort.services.x`` names, if it names one."""
    if isinstance(node, ast.Name):
        return modules.get(node.id)
    if isinstance(node, ast.Attribute):
        parent = dotted(node.value, modules)
        if parent is not None and f"{parent}.{node.attr}" in MODULES:
            return f"{parent}.{node.attr}"
    return None


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for name, path in sorted(MODULES.items()):
        for use in cross_module_private_uses(path.read_text(), name, path.name == "__init__.py"):
            offenders.append(f"{path.relative_to(PACKAGE.parent)} {use}")
    assert offenders == [], "make these public or move them where they are used:\n" + "\n".join(offenders)


def test_the_check_sees_each_form_of_reaching_in():
    me = "zipshort.web.settings"
    assert cross_module_private_uses("from zipshort.web.auth import _start_session", me)
    assert cross_module_private_uses("from .auth import _start_session", me)
    assert cross_module_private_uses("from zipshort.web import auth\nauth._start_session()", me)
    assert cross_module_private_uses("import zipshort.web.auth as a\na._start_session()", me)
    assert cross_module_private_uses("import zipshort.web.auth\nzipshort.web.auth._start_session()", me)
    assert not cross_module_private_uses("from zipshort.web.auth import start_session\nx._y = 1", me)
    assert not cross_module_private_uses("def _own(): pass\n_own()", me)
    assert not cross_module_private_uses("from zipshort.web.settings import _own", me)
