"""Every service module has its own file of direct tests in tests/services (test_<module>.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules whose direct tests are being written elsewhere (their faces' tests cover them meanwhile); remove a
# name once its tests/services file exists. Never add one: a new service module comes with its test file.
PENDING = {"linkfields", "partials", "uploads"}


def test_every_service_module_has_a_test_file():
    modules = {p.stem for p in (ROOT / "zipshort" / "services").glob("*.py") if p.stem != "__init__"}
    tested = {p.stem.removeprefix("test_") for p in (ROOT / "tests" / "services").glob("test_*.py")}
    assert modules - tested <= PENDING, sorted(modules - tested - PENDING)
