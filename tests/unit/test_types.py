"""The type check is part of the test command: mypy passes, strict where the rules live (issue 11).

The settings are ``[tool.mypy]`` in pyproject.toml; mypy keeps its cache in ``.mypy_cache``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRICT = {"services", "models", "storage", "config"}


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def test_mypy_passes() -> None:
    result = _mypy()
    assert result.returncode == 0, f"mypy found problems (run `python -m mypy`):\n{result.stdout}{result.stderr}"


def test_strict_in_services_models_storage_and_config_only(tmp_path: Path) -> None:
    """With the project's settings an unannotated function is an error in those four packages, not in a face."""
    for package in [*STRICT, "web"]:
        folder = tmp_path / "zipshort" / package
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "loose.py").write_text("def double(x):\n    return x * 2\n")
    (tmp_path / "zipshort" / "__init__.py").write_text("")
    result = _mypy("--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
                   "zipshort", cwd=tmp_path)
    flagged = {Path(line.split(":", 1)[0]).parent.name for line in result.stdout.splitlines()
               if "[no-untyped-def]" in line}
    assert flagged == STRICT, result.stdout + result.stderr
