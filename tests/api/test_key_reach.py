"""Shlink's key roles honoured by every dialect (issue 13): an authored-only key reaches only the links it
created, a domain key only its domain's links and creates there; a link out of reach answers as another
user's link does in that dialect. (Shlink's own routes: tests/api/dialects/test_shlink_*.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pytest

from tests.conftest import Api
from zipshort.extensions import db
from zipshort.models import ApiKey, Link
from zipshort.services import folders

DOMAIN = "go.example"


@dataclass(frozen=True)
class Dialect:
    """How one dialect creates a link (returns its id), lists links (ids; None: no listing), and which
    per-link routes it has with the status a link out of reach (or another user's) answers."""

    name: str
    style: str
    create: Callable[[Api, str, Any], str]  # (api, slug, user)
    listing: Callable[[Api], set[str]] | None = None
    reads: dict[str, tuple[str, str, dict[str, Any] | None]] = field(default_factory=dict)  # what: method, path
    foreign: dict[str, int] = field(default_factory=dict)  # what: status for a link out of reach


def _ok(res, status: int = 200):
    assert res.status_code == status, res.get_data(as_text=True)
    return res.get_json()


def _zipline_create(api: Api, slug: str, user: Any = None) -> str:
    return _ok(api.post("/api/user/urls", json={"destination": f"https://example.com/{slug}", "vanity": slug}))["id"]


def _v3_create(api: Api, slug: str, user: Any = None) -> str:
    _ok(api.post("/api/shorten", json={"url": f"https://example.com/{slug}", "vanity": slug}))
    return db.session.scalars(db.select(Link.id).where(Link.slug == slug)).one()


def _hozip_create(api: Api, slug: str, user: Any = None) -> str:
    return _ok(api.post("/api/v1/external/links/create-link",
                        json={"long_url": f"https://example.com/{slug}", "short_code": slug}), 201)["id"]


def _h0p_create(api: Api, slug: str, user: Any = None) -> str:
    return _ok(api.post("/short-link", json={"slug": slug, "destination": {
        "type": "link", "value": f"https://example.com/{slug}"}}), 201)["id"]


def _hoko_create(api: Api, slug: str, user: Any = None) -> str:
    folder = folders.default_folder(user)
    return _ok(api.post("/api/links", json=[{"url": f"https://example.com/{slug}", "collectionId": folder.id}]),
               201)[0]["id"]


ZIPLINE_READS = {"get": ("get", "/api/user/urls/{id}", None), "edit": ("patch", "/api/user/urls/{id}", {"title": "t"}),
                 "stats": ("get", "/api/user/urls/{id}/stats", None),
                 "visits": ("get", "/api/user/urls/{id}/visits", None),
                 "forget": ("delete", "/api/user/urls/{id}/visits", None),
                 "delete": ("delete", "/api/user/urls/{id}", None)}
H0P_READS = {"get": ("get", "/short-link/{id}", None), "edit": ("patch", "/short-link/{id}", {"title": "t"}),
             "delete": ("delete", "/short-link/{id}", None)}

DIALECTS = [
    Dialect("zipline-v4", "raw", _zipline_create,
            lambda api: {item["id"] for item in _ok(api.get("/api/user/urls"))}, ZIPLINE_READS,
            {"get": 403, "edit": 403, "stats": 404, "visits": 404, "forget": 404, "delete": 404}),
    Dialect("zipline-v3", "raw", _v3_create),
    Dialect("hozip", "token", _hozip_create,
            lambda api: {item["id"] for item in _ok(api.get("/api/v1/external/links?limit=100"))["results"]}),
    Dialect("h0p", "x-api-key", _h0p_create,
            lambda api: {item["id"] for item in _ok(api.get("/short-link/list?limit=100"))["data"]}, H0P_READS,
            {"get": 404, "edit": 404, "delete": 404}),
    Dialect("hoko", "bearer", _hoko_create),
]


def role_key(user, make_key, authored_only: bool = False, domain: str | None = None) -> tuple[str, ApiKey]:
    """A key of ``user`` with roles, its columns set directly (minting them is services/apikeys.py's)."""
    plain = make_key(user, name="role")
    key = db.session.scalars(db.select(ApiKey).where(ApiKey.name == "role")).one()
    key.authored_only, key.domain = authored_only, domain
    db.session.commit()
    return plain, key


def call(dialect: Dialect, api: Api, what: str, link_id: str):
    method, path, body = dialect.reads[what]
    kwargs = {} if body is None else {"json": body}
    return getattr(api, method)(path.format(id=link_id), **kwargs)


def stored(link_id: str) -> Link:
    db.session.rollback()
    return db.session.get(Link, link_id, populate_existing=True)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_authored_only_key_reaches_only_its_links(dialect, client, user, make_user, make_key, make_link):
    theirs = make_link(user, vanity="theirs").id
    bobs = make_link(make_user("bob"), vanity="bobs").id
    plain, key = role_key(user, make_key, authored_only=True)
    api, full = Api(client, plain, style=dialect.style), Api(client, make_key(user), style=dialect.style)
    mine = dialect.create(api, "mine", user)
    assert stored(mine).api_key_id == key.id and stored(mine).domain == ""
    if dialect.listing is not None:
        assert dialect.listing(api) == {mine}
        assert dialect.listing(full) == {mine, theirs}
    for what, status in dialect.foreign.items():
        assert call(dialect, api, what, theirs).status_code == status, what  # as another user's link
        assert call(dialect, full, what, bobs).status_code == status, what
    if dialect.reads:
        assert stored(theirs) is not None
        assert call(dialect, api, "get", mine).status_code == 200
        assert call(dialect, api, "edit", mine).status_code == 200
        assert call(dialect, api, "delete", mine).status_code == 200
        assert stored(mine) is None


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_domain_key_reaches_only_its_domain(dialect, client, user, make_key, make_link, own_domain):
    own_domain(user, DOMAIN)
    elsewhere = make_link(user, vanity="elsewhere").id
    there = make_link(user, vanity="there", domain=DOMAIN).id
    plain, key = role_key(user, make_key, domain=DOMAIN)
    api = Api(client, plain, style=dialect.style)
    made = dialect.create(api, "made", user)
    assert (stored(made).domain, stored(made).api_key_id) == (DOMAIN, key.id)  # the key's domain, not the host's
    if dialect.listing is not None:
        assert dialect.listing(api) == {there, made}
    for what, status in dialect.foreign.items():
        assert call(dialect, api, what, elsewhere).status_code == status, what
    if dialect.reads:
        assert call(dialect, api, "get", there).status_code == 200
        assert call(dialect, api, "edit", there).status_code == 200


def test_zipline_domain_key_overrides_the_asked_domain(client, user, make_key, own_domain):
    own_domain(user, DOMAIN, "b.example")
    plain, _ = role_key(user, make_key, domain=DOMAIN)
    res = _ok(Api(client, plain).post("/api/user/urls", json={"destination": "https://example.com/", "vanity": "x",
                                                              "domain": "b.example"}))
    assert stored(res["id"]).domain == DOMAIN and res["url"].startswith(f"http://{DOMAIN}/")


def test_hozip_answers_the_domain_the_link_went_to(client, user, make_key, own_domain):
    own_domain(user, DOMAIN)
    plain, _ = role_key(user, make_key, domain=DOMAIN)
    res = _ok(Api(client, plain, style="token").post("/api/v1/external/links/create-link",
                                                     json={"long_url": "https://example.com/", "short_code": "xyz"}),
              201)
    assert res["domain"] == DOMAIN
    assert res["short_url"].startswith(f"http://{DOMAIN}/") and res["short_url"].endswith("/xyz")


def test_hoko_answers_the_domain_the_links_went_to(client, user, make_key, own_domain):
    own_domain(user, DOMAIN)
    plain, _ = role_key(user, make_key, domain=DOMAIN)
    items = [{"url": "https://example.com/", "collectionId": folders.default_folder(user).id}] * 2
    made = _ok(Api(client, plain, style="bearer").post("/api/links", json=items), 201)
    assert [item["shortUrl"].split("/")[2] for item in made] == [DOMAIN, DOMAIN]


def test_hozip_total_counts_only_the_links_in_reach(client, user, make_key, make_link):
    make_link(user, vanity="theirs")  # counted in the user's url_count, out of the key's reach
    plain, _ = role_key(user, make_key, authored_only=True)
    api = Api(client, plain, style="token")
    _hozip_create(api, "mine")
    assert _ok(api.get("/api/v1/external/links"))["total"] == 1
    assert _ok(Api(client, make_key(user), style="token").get("/api/v1/external/links"))["total"] == 2
