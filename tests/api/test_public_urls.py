"""Every absolute URL zipshort hands out follows one scheme rule (zipshort/urls.py):
``core.return_https_urls`` → https; else the trusted proxy's X-Forwarded-Proto (only with ``core.trust_proxy``);
else the scheme of the request. Each probe below collects the URLs of one kind from one face (a dialect's
answer, a public page, a dashboard page, a client config); each runs in every mode."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import zxingcpp
from PIL import Image

from tests.conftest import Api
from tests.web.test_pages import csrf
from zipshort.models import Role
from zipshort.services import folders, invites

# mode → (settings overrides, headers of every request, base URL of the requests, the scheme URLs must use)
MODES: dict[str, tuple[dict[str, Any], dict[str, str], str, str]] = {
    "return_https_urls": ({"core": {"return_https_urls": True}}, {}, "http://localhost", "https"),
    "trusted_proxy_https": ({"core": {"trust_proxy": 1}}, {"X-Forwarded-Proto": "https"}, "http://localhost", "https"),
    "trusted_proxy_http": ({"core": {"trust_proxy": 1}}, {"X-Forwarded-Proto": "http"}, "https://localhost", "http"),
    "plain_http": ({}, {}, "http://localhost", "http"),
    "plain_https": ({}, {}, "https://localhost", "https"),
    "untrusted_proxy_header": ({}, {"X-Forwarded-Proto": "https"}, "http://localhost", "http"),
}

PNG = Image.new("RGB", (40, 30), (200, 30, 30))
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
DISCORD = "Mozilla/5.0 (compatible; Discordbot/2.0)"


class Face:
    """One mode's client: every request carries the mode's headers and base URL; ``key`` is alice's API key."""

    def __init__(self, client, key: str, headers: dict[str, str], base_url: str) -> None:
        self.client, self.key, self.extra, self.base_url = client, key, headers, base_url

    def call(self, method: str, path: str, style: str | None = "raw", headers: dict[str, str] | None = None,
             **kwargs: Any):
        sent = dict(self.extra)
        if style is not None:
            sent.update(Api(self.client, self.key, style).headers())
        sent.update(headers or {})
        return getattr(self.client, method)(path, headers=sent, base_url=self.base_url, **kwargs)

    def upload(self, name: str = "photo.png", headers: dict[str, str] | None = None):
        data = io.BytesIO()
        PNG.save(data, "PNG")
        data.seek(0)
        return self.call("post", "/api/upload", headers=headers, content_type="multipart/form-data",
                         data={"file": (data, name, "image/png")})

    def page(self, path: str, **kwargs: Any) -> str:
        res = self.call("get", path, style=None, **kwargs)
        assert res.status_code == 200, (path, res.status_code)
        return res.get_data(as_text=True)

    def log_in(self, username: str = "alice") -> None:
        token = csrf(self.call("get", "/auth/login", style=None))
        res = self.call("post", "/auth/login", style=None,
                        data={"username": username, "password": "correct horse", "csrf_token": token})
        assert res.status_code == 303


def copied(html: str) -> list[str]:
    """The absolute URLs of a page's copy buttons."""
    return [u for u in re.findall(r'data-copy="([^"]+)"', html) if "://" in u]


# --- Zipline v4 and v3 --------------------------------------------------------------------------------------

def zipline_link_created(face: Face) -> list[str]:
    return [face.call("post", "/api/user/urls", json={"destination": "https://e.com/"}).get_json()["url"]]


def zipline_link_listed_and_read(face: Face) -> list[str]:
    made = face.call("post", "/api/user/urls", json={"destination": "https://e.com/"}).get_json()
    listed = [item["url"] for item in face.call("get", "/api/user/urls").get_json()]
    return listed + [face.call("get", f"/api/user/urls/{made['id']}").get_json()["url"]]


def zipline_link_edited(face: Face) -> list[str]:
    made = face.call("post", "/api/user/urls", json={"destination": "https://e.com/"}).get_json()
    return [face.call("patch", f"/api/user/urls/{made['id']}", json={"destination": "https://f.com/"}).get_json()["url"]]


def zipline_v3_shortened(face: Face) -> list[str]:
    json_url = face.call("post", "/api/shorten", json={"url": "https://e.com/"}).get_json()["url"]
    text_url = face.call("post", "/api/shorten", json={"url": "https://e.com/"}, headers={"No-JSON": "true"})
    return [json_url, text_url.get_data(as_text=True)]


def zipline_file_uploaded(face: Face) -> list[str]:
    urls = [file["url"] for file in face.upload().get_json()["files"]]
    return urls + [face.upload(headers={"x-zipline-no-json": "true"}).get_data(as_text=True)]


def zipline_v3_file_uploaded(face: Face) -> list[str]:
    return face.upload(headers={"Format": "random"}).get_json()["files"]


def zipline_chunked_upload_finished(face: Face) -> list[str]:
    res = face.call("post", "/api/upload/partial", content_type="multipart/form-data",
                    data={"file": [(io.BytesIO(b"0123456789"), "blob", "application/octet-stream")]},
                    headers={"Content-Range": "bytes 0-10/10", "x-zipline-p-filename": "ten.bin",
                             "x-zipline-p-content-type": "application/octet-stream", "x-zipline-p-lastchunk": "true"})
    return [res.get_json()["files"][0]["url"]]


# --- the other dialects -------------------------------------------------------------------------------------

def hozip_link_created(face: Face) -> list[str]:
    res = face.call("post", "/api/v1/external/links/create-link", style="token", json={"long_url": "https://e.com/"})
    return [res.get_json()["short_url"]]


def h0p_link_created_and_read(face: Face) -> list[str]:
    made = face.call("post", "/short-link", style="x-api-key",
                     json={"destination": {"type": "link", "value": "https://e.com/"}}).get_json()
    read = face.call("get", f"/short-link/{made['id']}", style="x-api-key").get_json()
    return [made["originUrl"], made["qrCode"]["options"]["data"], read["originUrl"], read["qrCode"]["options"]["data"]]


def hoko_links_created(face: Face, user) -> list[str]:
    collection = folders.create_folder(user, "Collection").id
    res = face.call("post", "/api/links", style="bearer", json=[{"url": "https://e.com/", "collectionId": collection},
                                                                {"url": "https://f.com/", "collectionId": collection}])
    return [item["shortUrl"] for item in res.get_json()]


# --- public pages -------------------------------------------------------------------------------------------

def public_qr_code(face: Face) -> list[str]:
    face.call("post", "/api/user/urls", json={"destination": "https://e.com/", "vanity": "qrme"})
    res = face.call("get", "/qr/qrme.png", style=None)
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(res.data)).convert("L"))
    return [code.text]


def public_raw_url_of_a_file_preview(face: Face) -> list[str]:
    name = face.upload().get_json()["files"][0]["url"].rsplit("/", 1)[1]
    html = face.page(f"/view/{name}")
    return re.findall(r'<meta property="og:image" content="([^"]+)"', html)


def public_preview_image_of_a_link(face: Face) -> list[str]:
    image_id = face.upload().get_json()["files"][0]["id"]
    face.call("post", "/short-link", style="x-api-key",
              json={"slug": "meta", "destination": {"type": "link", "value": "https://e.com/"},
                    "metaTags": {"title": "Hello", "imageId": image_id}})
    html = face.page("/go/meta", headers={"User-Agent": DISCORD})
    return re.findall(r'<meta property="og:image" content="([^"]+)"', html)


# --- dashboard pages and client configs ---------------------------------------------------------------------

def web_links_page(face: Face) -> list[str]:
    face.call("post", "/api/user/urls", json={"destination": "https://e.com/"})
    face.log_in()
    return copied(face.page("/dashboard/urls"))


def web_files_page(face: Face) -> list[str]:
    face.upload()
    face.log_in()
    return copied(face.page("/dashboard/files")) + copied(face.page("/dashboard"))


def web_folders_page(face: Face, user) -> list[str]:
    folders.create_folder(user, "Open", public=True)
    face.log_in()
    return copied(face.page("/dashboard/folders"))


def web_settings_page_and_client_configs(face: Face) -> list[str]:
    face.log_in()
    html = face.page("/dashboard/settings")
    urls = re.findall(r'(\w+://[^"<\s]+/dl/[^"<\s]*)', html)
    for name in ("zipshort-file.sxcu", "zipshort-url.sxcu"):
        urls += re.findall(r'"RequestURL": "([^"]+)"', face.page(f"/dashboard/settings/generators/{name}"))
    return urls


def web_invites_page(face: Face, make_user, rt) -> list[str]:
    boss = make_user("boss", role=Role.ADMIN)
    invites.create_invite(rt, boss, "1d")
    face.log_in("boss")
    return copied(face.page("/dashboard/admin/invites"))


PROBES: list[Callable[..., list[str]]] = [
    zipline_link_created, zipline_link_listed_and_read, zipline_link_edited, zipline_v3_shortened,
    zipline_file_uploaded, zipline_v3_file_uploaded, zipline_chunked_upload_finished,
    hozip_link_created, h0p_link_created_and_read, hoko_links_created,
    public_qr_code, public_raw_url_of_a_file_preview, public_preview_image_of_a_link,
    web_links_page, web_files_page, web_folders_page, web_settings_page_and_client_configs, web_invites_page,
]


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    return request.param


@pytest.fixture
def overrides(mode) -> dict[str, Any]:
    return MODES[mode][0]


@pytest.fixture
def face(client, user, make_key, mode) -> Face:
    _, headers, base_url, _ = MODES[mode]
    return Face(client, make_key(user), headers, base_url)


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.__name__)
def test_returned_urls_follow_the_one_scheme_rule(probe, face, mode, user, make_user, rt):
    extra = {"user": user, "make_user": make_user, "rt": rt}
    wanted = probe.__code__.co_varnames[1:probe.__code__.co_argcount]
    urls = probe(face, **{name: extra[name] for name in wanted})
    scheme = MODES[mode][3]
    assert urls, f"{probe.__name__} found no URL"
    for url in urls:
        assert re.fullmatch(rf"{scheme}://localhost/\S*", url), f"{probe.__name__}: {url} (wanted {scheme}://)"


class TestContentDomain:
    """Files answer only on ``files.content_domain``; the redirect there and the upload's URL use the same rule."""

    @pytest.fixture
    def overrides(self, mode) -> dict[str, Any]:
        settings = {section: dict(values) for section, values in MODES[mode][0].items()}
        settings["files"] = {"content_domain": "content.example"}
        return settings

    def test_upload_url_and_redirect_to_the_content_domain_follow_the_rule(self, face, mode):
        url = face.upload().get_json()["files"][0]["url"]
        scheme = MODES[mode][3]
        assert url.startswith(f"{scheme}://content.example/u/")
        moved = face.call("get", "/u/" + url.rsplit("/", 1)[1] + "?download=1", style=None)
        assert moved.status_code == 307
        assert moved.headers["Location"] == url + "?download=1"


def test_only_zipshort_urls_decides_the_scheme():
    """No other module reads the request's scheme or builds absolute URLs itself: the rule stays in one place.
    ``core.return_https_urls`` is read elsewhere only to mark cookies Secure."""
    package = Path(__file__).resolve().parents[2] / "zipshort"
    scheme_readers = re.compile(r"request\.scheme|\.url_root|\.host_url|_external\s*=|wsgi\.url_scheme|"
                                r"X-Forwarded-Proto")
    offenders = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        if name == "urls.py" or name.startswith("config/"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if scheme_readers.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
            if "return_https_urls" in line and not re.search(r"secure|https = ", line, re.IGNORECASE):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert not offenders, "build public URLs with zipshort.urls (public_url, link_url, file_url, origin): " + \
        "; ".join(offenders)
