"""The zipshort command: user and key groups in-process; serve, first admin and db upgrade as real processes."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import TEST_SECRET, Api
from tests.logscan import SCAN
from zipshort.cli import main
from zipshort.models import Role
from zipshort.services import accounts

ROOT = Path(__file__).resolve().parents[2]


def run(runner, *args, input=None):
    return runner.invoke(main, list(args), input=input)


def test_user_create_list_set_role_set_password_disable(runner, app, client):
    result = run(runner, "user", "create", "carol", "--password", "pw-123456", "--role", "ADMIN")
    assert result.exit_code == 0, result.output
    assert "carol" in run(runner, "user", "list").output
    assert run(runner, "user", "set-role", "carol", "USER").exit_code == 0
    assert accounts.find_user("carol").role == Role.USER.value
    assert run(runner, "user", "set-password", "carol", "--password", "new-pass-1").exit_code == 0
    login = client.post("/api/auth/login", json={"username": "carol", "password": "new-pass-1"})
    assert login.status_code == 200
    assert run(runner, "user", "disable", "carol").exit_code == 0
    assert client.get("/api/user").status_code == 401
    assert run(runner, "user", "disable", "carol", "--enable").exit_code == 0


def test_user_create_duplicate_fails_cleanly(runner, user):
    result = run(runner, "user", "create", "alice", "--password", "x")
    assert result.exit_code != 0 and "Username is taken" in result.output


def test_user_commands_for_unknown_user_fail_cleanly(runner):
    result = run(runner, "user", "set-role", "ghost", "ADMIN")
    assert result.exit_code != 0 and "ghost" in result.output


def test_key_create_prints_only_the_key_and_it_works(runner, user, client):
    result = run(runner, "key", "create", "alice", "--name", "laptop", "--scope", "links:read")
    assert result.exit_code == 0
    key = result.output.strip()
    assert result.output == key + "\n" and key.startswith("zs_")
    assert Api(client, key).get("/api/user/urls").status_code == 200
    assert Api(client, key).post("/api/user/urls", json={"destination": "https://e.com/"}).status_code == 403


def test_key_list_and_revoke(runner, user, client):
    key = run(runner, "key", "create", "alice").output.strip()
    listing = run(runner, "key", "list", "alice").output
    key_id = listing.split()[0]
    assert key not in listing and "active" in listing
    assert run(runner, "key", "revoke", "alice", key_id).exit_code == 0
    assert "revoked" in run(runner, "key", "list", "alice").output
    assert Api(client, key).get("/api/user").status_code == 401


def test_key_create_admin_scope_for_a_user_is_refused(runner, user):
    assert run(runner, "key", "create", "alice", "--scope", "admin").exit_code != 0


def test_key_create_unknown_scope_is_refused(runner, user):
    assert run(runner, "key", "create", "alice", "--scope", "root").exit_code != 0


# --- real processes -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(instance: Path, env_extra: dict[str, str] | None = None, module: bool = False):
    """Launch ``zipshort serve`` and wait until it answers its health check."""
    proc, url = launch_server(instance, env_extra, module)
    return wait_ready(proc, url)


def launch_server(instance: Path, env_extra: dict[str, str] | None = None, module: bool = False):
    """Launch ``zipshort serve`` without waiting for it (see ``wait_ready``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_", "DATABASE_URL"))}
    env.update({"ZIPSHORT_INSTANCE": str(instance), "CORE_SECRET": TEST_SECRET,
                "ZIPSHORT_SECURITY_ARGON2_MEMORY_COST": "8", "ZIPSHORT_SECURITY_ARGON2_TIME_COST": "1",
                "ZIPSHORT_SECURITY_ARGON2_PARALLELISM": "1", **(env_extra or {})})
    command = [sys.executable, "-m", "zipshort"] if module else [str(Path(sys.executable).parent / "zipshort"), "serve"]
    proc = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, f"http://127.0.0.1:{port}"


def wait_ready(proc, url: str):
    """Poll the health check of a launched server until it passes (fails after 30 s or when it exits)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/api/healthcheck", timeout=1).json() == {"pass": True}:
                return proc, url
        except requests.RequestException:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + proc.communicate()[0])


def stop(proc) -> str:
    proc.terminate()
    output = proc.communicate(timeout=10)[0]
    SCAN.output(output)  # its log lines join the run's secret scan (tests/logscan.py)
    return output


def test_first_start_creates_admin_with_printed_password(tmp_path):
    proc, url = start_server(tmp_path)
    output = stop(proc)  # it printed the password before it answered the health check
    line = next(line for line in output.splitlines() if "first administrator" in line)
    password = line.split("password '")[1].split("'")[0]
    proc, url = start_server(tmp_path)  # second start: no new admin, the password still works
    try:
        res = requests.post(url + "/api/auth/login", json={"username": "admin", "password": password}, timeout=10)
        assert res.status_code == 200 and res.json()["user"]["role"] == "SUPERADMIN"
    finally:
        assert "first administrator" not in stop(proc)


def test_first_start_uses_admin_credentials_from_environment(tmp_path):
    proc, url = start_server(tmp_path, {"ZIPSHORT_ADMIN_USERNAME": "boss", "ZIPSHORT_ADMIN_PASSWORD": "pw-from-env"},
                             module=True)
    try:
        res = requests.post(url + "/api/auth/login", json={"username": "boss", "password": "pw-from-env"}, timeout=10)
        assert res.status_code == 200
    finally:
        output = stop(proc)
    assert "pw-from-env" not in output


def test_db_upgrade_on_an_empty_instance(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_", "DATABASE_URL"))}
    env.update({"ZIPSHORT_INSTANCE": str(tmp_path), "CORE_SECRET": TEST_SECRET})
    exe = str(Path(sys.executable).parent / "zipshort")
    result = subprocess.run([exe, "db", "upgrade"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "zipshort.db") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "links", "api_keys", "alembic_version"} <= tables


def test_bad_configuration_is_a_clear_error(tmp_path):
    (tmp_path / "config.toml").write_text("[urls]\nlength = 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_", "DATABASE_URL"))}
    env.update({"ZIPSHORT_INSTANCE": str(tmp_path), "CORE_SECRET": TEST_SECRET})
    exe = str(Path(sys.executable).parent / "zipshort")
    result = subprocess.run([exe, "serve"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "urls.length" in result.stderr and "Traceback" not in result.stderr


def test_sigterm_writes_pending_view_counts(tmp_path):
    env = {"ZIPSHORT_ADMIN_USERNAME": "admin", "ZIPSHORT_ADMIN_PASSWORD": "pw-123456",
           "ZIPSHORT_URLS_VIEW_FLUSH_SECONDS": "600"}
    proc, url = start_server(tmp_path, env)
    try:
        session = requests.Session()
        session.post(url + "/api/auth/login", json={"username": "admin", "password": "pw-123456"}, timeout=10)
        token = session.get(url + "/api/user/token", timeout=10).json()["token"]
        requests.post(url + "/api/user/urls", headers={"Authorization": token}, timeout=10,
                      json={"destination": "https://example.com/", "vanity": "counted"})
        for _ in range(3):
            assert requests.get(url + "/go/counted", allow_redirects=False, timeout=10).status_code == 302
        # the three views wait in memory (a cache miss reads the link and writes nothing)
        listed = requests.get(url + "/api/user/urls", headers={"Authorization": token}, timeout=10).json()
        assert listed[0]["views"] == 0
    finally:
        stop(proc)
    proc, url = start_server(tmp_path, env)
    try:
        views = requests.get(url + "/api/user/urls", headers={"Authorization": token}, timeout=10).json()[0]["views"]
        assert views == 3
    finally:
        stop(proc)


# --- the command's own surface ---------------------------------------------------------------------

def _run_exe(tmp_path, *args, input=None, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZIPSHORT_", "CORE_", "DATABASE_URL"))}
    env.update({"ZIPSHORT_INSTANCE": str(tmp_path), "CORE_SECRET": TEST_SECRET,
                "ZIPSHORT_SECURITY_ARGON2_MEMORY_COST": "8", "ZIPSHORT_SECURITY_ARGON2_TIME_COST": "1",
                "ZIPSHORT_SECURITY_ARGON2_PARALLELISM": "1", **(env_extra or {})})
    exe = str(Path(sys.executable).parent / "zipshort")
    return subprocess.run([exe, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, input=input)


def test_version_prints_the_package_version(tmp_path):
    from importlib.metadata import version

    result = _run_exe(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"zipshort {version('zipshort')}"


def test_help_lists_only_zipshorts_own_options(tmp_path):
    result = _run_exe(tmp_path, "--help")
    assert result.returncode == 0
    for flask_option in ("--app", "--env-file", "--debug"):
        assert flask_option not in result.stdout
    assert "serve" in result.stdout and "--version" in result.stdout


def test_db_upgrade_says_what_it_did(tmp_path):
    first = _run_exe(tmp_path, "db", "upgrade")
    assert first.returncode == 0 and "upgraded from an empty schema to" in first.stdout, first.stdout + first.stderr
    again = _run_exe(tmp_path, "db", "upgrade")
    assert again.returncode == 0 and "already at the newest revision" in again.stdout
    current = _run_exe(tmp_path, "db", "current")
    assert current.stdout.strip() in first.stdout


def test_user_create_takes_the_password_from_stdin_without_warnings(tmp_path):
    assert _run_exe(tmp_path, "db", "upgrade").returncode == 0
    result = _run_exe(tmp_path, "user", "create", "dora", "--password-stdin", input="s3cret-from-stdin\n")
    assert result.returncode == 0 and "created USER dora" in result.stdout
    assert result.stderr == "" and "s3cret" not in result.stdout
    _assert_login(tmp_path, "dora", "s3cret-from-stdin")


def test_user_create_takes_the_password_from_the_environment(tmp_path):
    assert _run_exe(tmp_path, "db", "upgrade").returncode == 0
    result = _run_exe(tmp_path, "user", "create", "erin", env_extra={"ZIPSHORT_USER_PASSWORD": "s3cret-from-env"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    changed = _run_exe(tmp_path, "user", "set-password", "erin", "--password-stdin", input="another-one\n")
    assert changed.returncode == 0 and changed.stderr == ""
    _assert_login(tmp_path, "erin", "another-one")


def test_user_create_without_a_password_or_terminal_fails_clearly(tmp_path):
    assert _run_exe(tmp_path, "db", "upgrade").returncode == 0
    result = _run_exe(tmp_path, "user", "create", "fred", input="")
    assert result.returncode != 0 and "--password-stdin" in result.stderr and "Warning" not in result.stderr


def _assert_login(instance, username: str, password: str) -> None:
    from zipshort import create_app
    from zipshort.config import load_settings
    from zipshort.services import accounts as accounts_service

    settings = load_settings({"core": {"secret": TEST_SECRET, "testing": True},
                              "security": {"argon2_memory_cost": 8, "argon2_time_cost": 1,
                                           "argon2_parallelism": 1}}, environ={}, instance_path=instance)
    app = create_app(settings)
    with app.app_context():
        user = accounts_service.authenticate(app.extensions["zipshort"], username, password, "127.0.0.1")
        assert user.username == username
        from zipshort.extensions import db

        db.session.remove()
        db.engine.dispose()


def test_the_commands_changes_are_in_the_audit_log(tmp_path):
    assert _run_exe(tmp_path, "db", "upgrade").returncode == 0
    assert _run_exe(tmp_path, "user", "create", "gina", "--password", "pw-123456").returncode == 0
    assert _run_exe(tmp_path, "user", "disable", "gina").returncode == 0
    with contextlib.closing(sqlite3.connect(tmp_path / "zipshort.db")) as conn:
        rows = conn.execute("SELECT action, actor_id, target_name, details FROM audit_log ORDER BY at").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("user.created", None, "gina"), ("user.disabled", None, "gina")]
    assert '"via": "cli"' in rows[0][3]
