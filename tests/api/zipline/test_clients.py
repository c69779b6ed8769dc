"""Client configurations as ShareX and shell scripts use them, run against the real server."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import fetch


def sharex(config: dict, base_url: str, token: str, text: str) -> str:
    """Perform a ShareX custom-uploader request the way ShareX does, return the URL it would copy."""
    url = config["RequestURL"].replace("https://short.example", base_url)
    headers = {k: (token if k == "Authorization" else v) for k, v in config.get("Headers", {}).items()}
    body = config["Data"].replace("{input}", text)
    headers["Content-Type"] = "application/json; charset=UTF-8"
    res = fetch(config["RequestMethod"], url, headers=headers, data=body.encode())
    template = config["URL"]
    if template == "{response}":
        return res.text
    path = re.fullmatch(r"\{json:([\w.\[\]]+)\}", template).group(1)
    value = res.json()
    for part in re.findall(r"\w+", path):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


V4_SXCU = {"Version": "16.0.0", "Name": "zipshort - links", "DestinationType": "URLShortener, URLSharingService",
           "RequestMethod": "POST", "RequestURL": "https://short.example/api/user/urls",
           "Headers": {"Authorization": "token"}, "Body": "JSON", "Data": "{\"destination\": \"{input}\"}",
           "URL": "{json:url}"}
V3_SXCU = {"Version": "14.1.0", "Name": "Zipline - host - URL", "DestinationType": "URLShortener,URLSharingService",
           "RequestMethod": "POST", "RequestURL": "https://short.example/api/shorten",
           "Headers": {"Authorization": "token"}, "Body": "JSON", "Data": "{\"url\":\"{input}\"}", "URL": "{json:url}"}


@pytest.mark.parametrize("config", [V4_SXCU, V3_SXCU], ids=["v4", "v3"])
def test_sharex_url_shortener_configs(live_server, user, make_key, config):
    short = sharex(config, live_server.url, make_key(user), "https://example.com/from-sharex?q=1")
    assert short.startswith(live_server.url + "/go/")
    assert fetch("GET", short).headers["Location"] == "https://example.com/from-sharex?q=1"


def test_shell_one_liner_with_curl(live_server, user, make_key):
    token = make_key(user)
    script = (f'curl -s -H "Authorization: {token}" -H "x-zipline-no-json: true" '
              '-H "content-type: application/json" -d "{\\"destination\\": \\"$1\\"}" '
              f"{live_server.url}/api/user/urls")
    out = subprocess.run(["bash", "-c", script, "shorten", "https://example.com/curl"], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.startswith(live_server.url + "/go/")
    assert fetch("GET", out.stdout.strip()).headers["Location"] == "https://example.com/curl"


def test_python_client_sending_null_vanity_gets_a_random_code(live_server, user, make_key):
    # Zipline 4.4.1 answered this with a 400 (#977/#981); clients send it.
    res = fetch("POST", live_server.url + "/api/user/urls", headers={"Authorization": make_key(user)},
                json={"destination": "https://example.com/py", "vanity": None})
    assert res.status_code == 200 and res.json()["url"].endswith("/go/" + res.json()["code"])


def sharex_file(config: dict, base_url: str, token: str, filename: str, content: bytes) -> str:
    """A ShareX file upload: multipart with FileFormName, then the URL template applied to the answer."""
    url = config["RequestURL"].replace("https://short.example", base_url)
    headers = {k: (token if k == "Authorization" else v) for k, v in config.get("Headers", {}).items()}
    res = fetch("POST", url, headers=headers, files={config["FileFormName"]: (filename, content, "image/png")})
    path = re.fullmatch(r"\{json:([\w.\[\]]+)\}", config["URL"]).group(1)
    value = res.json()
    for part in re.findall(r"\w+", path):
        value = value[int(part)] if part.isdigit() else value[part]
    return value


FILES_V4 = {"Version": "16.0.0", "Name": "zipshort - files", "RequestMethod": "POST",
            "DestinationType": "ImageUploader, TextUploader, FileUploader",
            "RequestURL": "https://short.example/api/upload", "Headers": {"Authorization": "token"},
            "Body": "MultipartFormData", "FileFormName": "file", "URL": "{json:files[0].url}"}
FILES_V3 = {**FILES_V4, "Headers": {"Authorization": "token", "Format": "random", "Original-Name": ""},
            "URL": "{json:files[0]}"}


@pytest.mark.parametrize("config", [FILES_V4, FILES_V3], ids=["v4", "v3"])
def test_sharex_file_uploader_configs(live_server, user, make_key, config):
    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100
    url = sharex_file(config, live_server.url, make_key(user), "Screenshot 2026-11-21.png", png)
    assert url.startswith(live_server.url + "/u/")
    got = fetch("GET", url)
    assert got.content == png and got.headers["Content-Type"] == "image/png"


def test_flameshot_style_script(live_server, user, make_key, tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x02" * 50)
    script = (f'curl -s -H "Authorization: {make_key(user)}" -H "x-zipline-no-json: true" '
              f'-F "file=@{shot}" {live_server.url}/api/upload | tr -d "\\n"')
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30).stdout
    assert out.startswith(live_server.url + "/u/") and fetch("GET", out).content == shot.read_bytes()
