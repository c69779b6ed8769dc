"""The generated client configs work as they are: the shell scripts run with bash and curl against the
real server (Flameshot through a stand-in that 'captures' a PNG), the iShare file as iShare uses it."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess

import pytest
import requests

from tests.conftest import require_tool

pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def session(live_server, user):
    """A logged-in requests session for the live server."""
    s = requests.Session()
    page = s.get(live_server.url + "/auth/login")
    s.post(live_server.url + "/auth/login", data={"username": "alice", "password": "correct horse",
                                                   "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                                           page.text).group(1)})
    assert s.get(live_server.url + "/dashboard", allow_redirects=False).status_code == 200
    yield s
    s.close()


def download(session, live_server, tmp_path, name: str, query: str = ""):
    res = session.get(f"{live_server.url}/dashboard/settings/generators/{name}{query}")
    assert res.status_code == 200
    path = tmp_path / name
    path.write_text(res.text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run(path, *args, env=None):
    clean = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(["bash", str(path), *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **(env or {})})


@pytest.fixture
def curl() -> str:
    return require_tool("curl", "the scripts use it")


needs_curl = pytest.mark.usefixtures("curl")


@needs_curl
def test_upload_script_uploads_and_prints_the_url(session, live_server, tmp_path):
    script = download(session, live_server, tmp_path, "zipshort-upload.sh", "?max_views=5&format=uuid")
    sample = tmp_path / "notes.txt"
    sample.write_text("from the script\n")
    done = run(script, str(sample))
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert re.fullmatch(rf"{live_server.url}/u/[0-9a-f-]{{36}}\.txt", url)
    assert requests.get(url.replace("/u/", "/raw/")).text == "from the script\n"
    assert run(script).returncode == 2  # usage


@needs_curl
def test_shorten_script_shortens_even_awkward_urls(session, live_server, tmp_path):
    script = download(session, live_server, tmp_path, "zipshort-shorten.sh")
    target = 'https://example.com/a?b="c"&d=\\e'
    done = run(script, target)
    assert done.returncode == 0, done.stderr
    res = requests.get(done.stdout.strip(), allow_redirects=False)
    assert res.status_code == 302 and res.headers["Location"] == 'https://example.com/a?b=%22c%22&d=%5Ce'
    stored = session.get(live_server.url + "/api/user/urls").json()
    assert [u["destination"] for u in stored] == [target]  # the JSON the script built arrived intact


@needs_curl
def test_flameshot_script_uploads_what_flameshot_captured(session, live_server, tmp_path):
    script = download(session, live_server, tmp_path, "zipshort-flameshot.sh")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "flameshot").write_bytes(b"#!/bin/sh\nprintf '" + b"".join(b"\\%03o" % c for c in png) + b"'\n")
    (fake_bin / "flameshot").chmod(0o755)
    done = run(script, env={"PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.endswith(".png") and requests.get(url.replace("/u/", "/raw/")).content == png
    # A cancelled capture (no output) uploads nothing and succeeds quietly.
    (fake_bin / "flameshot").write_text("#!/bin/sh\nexit 0\n")
    quiet = run(script, env={"PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_ishare_config_works_as_ishare_uses_it(session, live_server, tmp_path):
    config = json.loads(download(session, live_server, tmp_path, "zipshort-file.iscu").read_text())
    res = requests.post(config["requesturl"], headers=config["headers"],
                        files={config["fileformname"]: ("shot.png", b"\x89PNG\r\n\x1a\n1234", "image/png")})
    assert res.status_code == 200 and config["responseurl"] == "{{files[0].url}}"
    url = res.json()["files"][0]["url"]
    assert requests.get(url.replace("/u/", "/raw/")).content.endswith(b"1234")


def test_generators_need_a_session(live_server):
    res = requests.get(live_server.url + "/dashboard/settings/generators/zipshort-upload.sh", allow_redirects=False)
    assert res.status_code == 302 and "/auth/login" in res.headers["Location"]


def script_token(script) -> str:
    """The token a generated script holds."""
    return shlex.split(re.search(r"^TOKEN=(.*)$", script.read_text(), re.M).group(1))[0]


def reset_token(session, live_server) -> None:
    """Reset the Zipline token through the settings page: every generated file now holds a dead one."""
    page = session.get(live_server.url + "/dashboard/settings")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    res = session.post(live_server.url + "/dashboard/settings/token/reset", data={"csrf_token": token})
    assert res.status_code == 200 and "Your token was reset" in res.text


@needs_curl
@pytest.mark.parametrize("name", ["zipshort-upload.sh", "zipshort-shorten.sh", "zipshort-flameshot.sh"])
def test_scripts_print_the_servers_reason_for_a_bad_token_and_fail(session, live_server, tmp_path, name):
    script = download(session, live_server, tmp_path, name)
    reset_token(session, live_server)
    sample = tmp_path / "notes.txt"
    sample.write_text("x\n")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "flameshot").write_text("#!/bin/sh\nprintf '\\211PNG\\r\\n\\032\\nxxxx'\n")
    (fake_bin / "flameshot").chmod(0o755)
    args = {"zipshort-upload.sh": [str(sample)], "zipshort-shorten.sh": ["https://example.com/"]}.get(name, [])
    done = run(script, *args, env={"PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert done.returncode != 0
    assert "curl: (22)" not in done.stderr
    said = requests.post(live_server.url + "/api/upload",
                         headers={"authorization": script_token(script)}).json()["error"]
    assert f"HTTP 401: {said}" in done.stderr, done.stderr  # the server's own words
    assert done.stdout == ""  # nothing that looks like a URL for the clipboard


@needs_curl
def test_upload_script_prints_the_quota_message_and_fails(session, live_server, tmp_path, rt, user):
    from zipshort.services import accounts

    accounts.update_user(rt, user, accounts.UserChanges(quota=accounts.parse_quota({"filesType": "BY_BYTES",
                                                                                    "maxBytes": "10b"})))
    script = download(session, live_server, tmp_path, "zipshort-upload.sh")
    big = tmp_path / "big.bin"
    big.write_bytes(b"0" * 100)
    done = run(script, str(big))
    assert done.returncode != 0 and "curl: (22)" not in done.stderr
    said = requests.post(live_server.url + "/api/upload", headers={"authorization": script_token(script)},
                         files={"file": ("big.bin", big.read_bytes())})
    assert said.status_code == 413 and f"HTTP 413: {said.json()['error']}" in done.stderr, done.stderr


@needs_curl
def test_shorten_script_prints_why_a_destination_is_refused(session, live_server, tmp_path):
    script = download(session, live_server, tmp_path, "zipshort-shorten.sh")
    done = run(script, "javascript:alert(1)")
    assert done.returncode != 0 and "HTTP 400" in done.stderr, done.stderr
    assert "destination" in done.stderr.lower() and done.stdout == ""


@needs_curl
def test_scripts_report_an_unreachable_server(session, live_server, tmp_path):
    script = download(session, live_server, tmp_path, "zipshort-shorten.sh")
    script.write_text(script.read_text().replace(live_server.url, "http://127.0.0.1:9"))
    done = run(script, "https://example.com/")
    assert done.returncode != 0 and "curl: (7)" in done.stderr and done.stdout == ""
