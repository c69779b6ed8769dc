"""One way to reach the Runtime from a face or an entry point: ``zipshort.http.runtime()``.

Not ``current_app.extensions["zipshort"]``, not a local ``rt()``/``_runtime()`` wrapper, not a
``runtime`` imported from anywhere else. Only ``http.py`` reads the extension and ``create_app`` stores it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "zipshort"
# Faces and what they share (layers 3-5 of tests/unit/test_layering.py); services take the Runtime as an argument.
FACES = ["api", "web", "public", "auth.py", "errorhandlers.py", "http.py", "urls.py", "cli.py", "serving.py",
         "__init__.py", "__main__.py"]
WRAPPER_NAMES = {"rt", "_rt", "runtime", "_runtime", "get_runtime", "current_runtime"}


def face_files() -> list[Path]:
    files = []
    for entry in FACES:
        path = PACKAGE / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def runtime_access_problems(source: str, is_http: bool = False) -> list[str]:
    """Every way ``source`` reaches the Runtime other than calling ``zipshort.http.runtime``."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "extensions" and isinstance(node.ctx, ast.Load) and not is_http:
            key = node.slice
            if not (isinstance(key, ast.Constant) and key.value == "migrate"):
                problems.append(f"line {node.lineno}: reads app.extensions[...] (use zipshort.http.runtime())")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and not is_http:
            if getattr(node, "name", None) in WRAPPER_NAMES:
                problems.append(f"line {node.lineno}: defines {node.name}() (use zipshort.http.runtime())")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in WRAPPER_NAMES and node.module != "zipshort.http":
                    problems.append(f"line {node.lineno}: imports {alias.name} from {node.module}")
                if alias.name == "runtime" and alias.asname not in (None, "runtime"):
                    problems.append(f"line {node.lineno}: imports runtime as {alias.asname}")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == "runtime":
            problems.append(f"line {node.lineno}: a second name for runtime")
    return problems


def test_faces_reach_the_runtime_only_through_http_runtime():
    problems = []
    for path in face_files():
        for problem in runtime_access_problems(path.read_text(), is_http=path == PACKAGE / "http.py"):
            problems.append(f"{path.relative_to(PACKAGE.parent)} {problem}")
    assert problems == [], "\n".join(problems)


def test_the_check_sees_the_old_ways():
    assert runtime_access_problems('from flask import current_app\ncurrent_app.extensions["zipshort"].settings')
    assert runtime_access_problems('app.extensions[RUNTIME_KEY]')
    assert runtime_access_problems("def rt():\n    return runtime()")
    assert runtime_access_problems("def _runtime():\n    pass")
    assert runtime_access_problems("from zipshort.auth import runtime")
    assert runtime_access_problems("from zipshort.web.common import rt")
    assert runtime_access_problems("from zipshort.http import runtime as rt")
    assert not runtime_access_problems("from zipshort.http import runtime\nrt = runtime()\nrt.settings")
    assert not runtime_access_problems('current_app.extensions["migrate"].directory')
