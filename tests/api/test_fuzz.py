"""Property-based fuzzing of every API endpoint of every dialect: no generated request gets a 5xx.

The routes come from walking the app's URL map (everything under /api/, /short-link and /rest/), so a
new endpoint is fuzzed without touching this file. Each request is drawn by Hypothesis: random JSON,
objects built from the field names the endpoint's module mentions with valid and hostile values (lone
surrogates, NUL and other control characters, huge and non-finite numbers, far dates and durations,
deep nesting, long strings, wrong types), raw bodies that are not JSON at all, hostile query strings
and, on the Zipline routes, hostile ``x-zipline-*`` and v3 headers. Callers are a superadmin with a
key holding every scope, sent in the dialect's own header style.

A request passes when its answer is below 500 and is not the database's generic refusal
(``invalid_value``, the DataError fallback): validation must catch the value first. Examples are
derandomized, so CI sends the same requests every run; a failure prints the request.

ZIPSHORT_FUZZ_EXAMPLES (default 6 per route and backend) searches harder; ZIPSHORT_FUZZ_TRACE=<file>
writes one line per request (route, status, answer) to see what the generator reaches.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKENDS, IsolatedClient, base_overrides, truncate_all
from zipshort import create_app
from zipshort.config import load_settings

# Its password and token fields carry generated values that also go into logged fields (names): not secrets.
pytestmark = pytest.mark.generated_values

API_PREFIXES = ("/api/", "/short-link", "/rest/")
# Server errors an endpoint answers by design: Shlink's Mercure info without a hub (zipshort has none).
DESIGNED = {("shlink.mercure_info", 501)}
ARRAY_BODIES = {"hoko.create_links"}  # endpoints whose body is a JSON array (every other one gets arrays too, rarely)
EXAMPLES_PER_ROUTE = int(os.environ.get("ZIPSHORT_FUZZ_EXAMPLES", "6"))  # raise locally to search harder
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


@dataclass(frozen=True, repr=False)
class Route:
    """One method of one URL rule, with the field names its module (and the services it calls) mention."""

    rule: str
    method: str
    endpoint: str
    arguments: tuple[str, ...]
    vocabulary: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"

    def __repr__(self) -> str:
        return f"<{self}>"


def _constants(module: Any) -> set[str]:
    """Identifier-like string constants of a module's source (its field and header names, among others)."""
    tree = ast.parse(Path(inspect.getsourcefile(module) or "").read_text())
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and IDENTIFIER.fullmatch(node.value)}


def _vocabulary(view: Any) -> tuple[str, ...]:
    module = sys.modules[inspect.unwrap(view).__module__]
    words = _constants(module)
    for value in vars(module).values():  # one hop into the services the view calls
        if inspect.ismodule(value) and value.__name__.startswith("zipshort.services."):
            words |= _constants(value)
    return tuple(sorted(words))


def api_routes() -> list[Route]:
    """Every method of every API rule of a freshly built app."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(load_settings(base_overrides(Path(folder)), environ={}, instance_path=Path(folder)))
        return sorted((Route(rule.rule, method, rule.endpoint, tuple(sorted(rule.arguments)),
                             _vocabulary(app.view_functions[rule.endpoint]))
                       for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIXES)
                       for method in rule.methods - {"HEAD", "OPTIONS"}), key=str)


ROUTES = api_routes()


class Raw(str):
    """JSON text inserted verbatim into a generated body (for nesting deeper than json.dumps may go)."""


def deep(levels: int, opener: str = "[", closer: str = "]", inner: str = "") -> Raw:
    """``levels`` nested containers around ``inner``."""
    return Raw(opener * levels + inner + closer * levels)


SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATES = ["\ud800", "a\udfffb", "\udbff", "x" * 10 + "\udc00"]
CONTROLS = ["\x00", "a\x00b", "\x01", "a\x1bb", "\x7f", "\x85", "line\nbreak", "tab\there", "\r", "\u2028", "\u202e"]
DATES = ["9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z", "+999999-01-01", "-000001-01-01", "0001-01-01",
         "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z", "2099-01-01T00:00:00Z", "2000-01-01",
         "999999999999y", "1e400d", "9" * 400 + "s", "99999999999999999999ms", "-1d", "0s", "1d", "1.5h", "never",
         "date=9999-12-31T23:59:59-14:00", "date=+999999-01-01", "date=0001-01-01T00:00:00+14:00", "date=2099-01-01",
         "NaN", "Infinity", "253402300800000", "-62135596800000"]
NUMBERS = [0, -1, 1, 5, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, -(10**30), 10**400, 1.5, -0.0,
           1e308, float("nan"), float("inf"), float("-inf"), 253402300800000, -62135596800000, True, False]
STRINGS = ["", " ", "x" * 300, "x" * 70_000, "https://example.com/", "https://example.com/\ud800", "javascript:x",
           "a@b.co", "#aabbcc", "fuzz", "USER", "ADMIN", "SUPERADMIN", "BY_BYTES", "BY_FILES", "NONE", "10gb",
           "9" * 400 + "gb", "link", "email", "phone", "..", "/etc/passwd", "%00", "%ED%A0%80", "%zz", "true"]
DEEP = [deep(10_000), deep(3_000, '{"a":', "}", "1"), deep(100), deep(40), deep(20), deep(5_000, '[{"a":', "}]", "1")]

WRONG_TYPES = [None, True, [], {}, ["x"], {"a": 1}, 0, ""]
CURATED = SURROGATES + CONTROLS * 2 + DATES * 2 + NUMBERS * 2 + STRINGS * 2 + DEEP + WRONG_TYPES * 2

scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                   st.sampled_from(CURATED))
random_json = st.recursive(scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)


class Draw:
    """Choices for one request. Structure and curated values come from a Random seeded by Hypothesis (its own
    choices favour small, repeated values, and the weights below would not hold); random JSON comes from
    Hypothesis itself. With ``derandomize`` both are the same on every run."""

    def __init__(self, data) -> None:
        self.data = data
        self.rnd = random.Random(data.draw(st.binary(min_size=8, max_size=8), label="seed"))

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def pick(self, options):
        return self.rnd.choice(list(options))

    def hostile(self) -> Any:
        return self.pick(CURATED) if self.chance(0.8) else self.data.draw(random_json, label="json")


class Env:
    """The seeded world one backend's fuzz run works in: a superadmin, a victim user and one of everything."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.ids: dict[str, str] = {}
        self.key = ""
        self.serial = 0

    def refresh(self) -> None:
        """Recreate whatever earlier requests deleted, revoked or disabled."""
        from zipshort.extensions import db
        from zipshort.models import File, Folder, Invite, Link, Role, Tag, User
        from zipshort.models.apikey import SCOPES
        from zipshort.services import accounts, apikeys, folders, invites, links, tags

        rt = self.app.extensions["zipshort"]
        db.session.rollback()
        admin = db.session.get(User, self.ids.get("admin", ""))
        if admin is None:
            admin = accounts.create_user(rt, "fuzzadmin", "correct horse", Role.SUPERADMIN)
            self.ids["admin"] = admin.id
        victim = db.session.get(User, self.ids.get("victim", ""))
        if victim is None or victim.disabled:
            if victim is not None:
                accounts.delete_user(rt, victim, actor=None)
            self.serial += 1
            victim = accounts.create_user(rt, f"victim{self.serial}", "correct horse")
            self.ids["victim"] = victim.id
        key_row = apikeys.authenticate_key(self.key) if self.key else None
        if key_row is None or key_row.bot:
            row, self.key = apikeys.create_key(rt, apikeys.Actor.of(admin), admin, name="fuzz", scopes=list(SCOPES))
            self.ids["key"] = row.id
        db.session.rollback()
        if db.session.get(Folder, self.ids.get("folder", "")) is None:
            self.ids["folder"] = folders.create_folder(admin, "fuzz-folder").id
        if db.session.get(Tag, self.ids.get("tag", "")) is None:
            self.serial += 1
            self.ids["tag"] = tags.create_tag(admin, f"fuzz-tag-{self.serial}", "#aabbcc").id
        link = db.session.get(Link, self.ids.get("link", ""))
        if link is None:
            link = links.create_link(rt, admin, links.NewLink(destination="https://example.com/seed"))
            self.ids["link"] = link.id
        self.ids["slug"] = link.slug
        invite = db.session.get(Invite, self.ids.get("invite", ""))
        if invite is None:
            invite = invites.create_invite(rt, admin, "never", 1000)
            self.ids["invite"] = invite.id
        self.ids["invite_code"] = invite.code
        if db.session.get(File, self.ids.get("file", "")) is None:
            answer = self.client.post("/api/upload", headers={"Authorization": self.key},
                                      data={"file": (io.BytesIO(b"seed file"), "seed.txt")})
            self.ids["file"] = answer.get_json()["files"][0]["id"]
        db.session.rollback()

    def path_value(self, name: str, draw: Draw) -> str:
        """A URL argument: mostly a seeded object's id (so the body gets looked at), sometimes nonsense."""
        ids = self.ids
        known = {"link_id": [ids["link"]], "folder_id": [ids["folder"]], "tag_id": [ids["tag"]], "key_id": [ids["key"]],
                 "user_id": [ids["victim"], ids["admin"]],
                 "ident": [ids["link"], ids["file"], ids["invite"], ids["slug"], ids["invite_code"], "transaction"]}
        if draw.chance(0.85):
            return draw.pick(known.get(name, list(ids.values())))
        return draw.pick(["nope", "0" * 36, "a\x00b", "x" * 300])

    def good_values(self, route: Route) -> dict[str, list[Any]]:
        """Values that pass validation, so a hostile value in another field reaches deeper code."""
        ids = self.ids
        url = "https://example.com/fuzz"
        link = {"type": "link", "value": url}
        self.serial += 1
        unique = f"fuzz{self.serial}"
        return {
            "destination": [link, {"type": "email", "value": "a@b.co"}] if route.rule.startswith("/short-link")
            else [url],
            "url": [url], "long_url": [url],
            "image": [url], "avatar": [url], "name": [unique], "hostname": [f"{unique}.example"], "color": ["#aabbcc"],
            "username": [unique], "password": ["pass-word-1"], "code": [ids["invite_code"]],
            "expiresAt": ["2099-01-01T00:00:00Z", "1d"], "maxViews": [5], "maxClicks": [5], "maxUses": [5],
            "collectionId": [ids["folder"]], "folderId": [ids["folder"]], "folder": [ids["folder"]],
            "group_id": [ids["folder"]], "tags": [["fuzz"], [ids["tag"]]], "files": [[ids["file"]]],
            "id": [ids["file"], ids["link"], [ids["file"]]], "favorite": [True], "isPublic": [True],
            "allowUploads": [True], "enabled": [True], "isActive": [True], "cloaking": [False],
            "deepLinking": [False], "enableDeepLinking": [False], "delete": ["file", "folder"],
            "scopes": [["links:read"]], "role": ["USER"], "disabled": [False], "verified": [True],
            "quota": [{"filesType": "BY_FILES", "maxFiles": 5, "maxUrls": 5},
                      {"filesType": "BY_BYTES", "maxBytes": "1gb"}],
            "view": [{"enabled": True, "content": "hi", "embedTitle": "t"}], "slug": [unique],
            "vanity": [unique], "short_code": [unique], "title": ["t"], "description": ["d\nline"],
            "externalId": ["ext"], "tenantId": ["tenant"], "partnerId": ["0" * 8 + "-0000-0000-0000-" + "0" * 12],
            "utm": [{"source": "news", "campaign": "c"}], "metaTags": [{"title": "t", "description": "d"}],
            "rules": [[{"priority": 1, "destination": link, "countries": ["DE"], "languages": ["de"],
                        "osTypes": ["ios"]}]],
            "qrCode": [{"options": {"width": 300, "dotsOptions": {"color": "#000000"}}}],
            "qrOptions": [{"options": {"width": 300, "margin": 2}}], "originalName": ["a.txt"], "type": ["text/plain"],
        }


@pytest.fixture(scope="module", params=BACKENDS)
def env(request, tmp_path_factory):
    """One seeded app per backend for the whole module (requests share it, as a real server's do)."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    url = ""
    if request.param == "sqlite":
        shutil.copy(request.getfixturevalue("sqlite_template"), folder / "zipshort.db")
    else:
        url = request.getfixturevalue("postgres_url")
        truncate_all(url)
    overrides = base_overrides(folder, url, urls={"hozip_create_limit": "1000000/hour"},
                               features={"user_registration": True})
    app = create_app(load_settings(overrides, environ={}, instance_path=folder))
    app.test_client_class = IsolatedClient
    with app.app_context():
        world = Env(app)
        world.refresh()
        yield world
        from zipshort.extensions import db

        db.session.remove()
        db.engine.dispose()


def auth_headers(path: str, key: str) -> dict[str, str]:
    """The key in the header style of the path's dialect."""
    if path.startswith("/api/v1/external/"):
        return {"Authorization": f"Token {key}"}
    if path.startswith("/short-link"):
        return {"x-api-key": key}
    if path.startswith("/api/links"):
        return {"Authorization": f"Bearer {key}"}
    if path.startswith("/rest/"):
        return {"X-Api-Key": key}
    return {"Authorization": key}


def encode(value: Any) -> bytes:
    """JSON text of ``value`` (NaN and Infinity as Python writes them, surrogates as \\u escapes, Raw verbatim)."""
    raws: list[str] = []

    def mark(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(str(item))
            return f"\x00raw{len(raws) - 1}\x00"
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value))
    for index, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00raw{index}\x00"), raw)
    return text.encode()


RAW_BODIES = [b"", b"null", b"[]", b"{}", b"NaN", b"Infinity", b"1e999", b'{"a":1,', b"\xff\xfe", b'"\xed\xa0\x80"',
              b'{"name":"\xed\xa0\x80"}', b"[" * 10_000, b'{"a":' * 10_000, b"0" * 5000, b"[" * 500 + b"]" * 500]


def json_body(draw: Draw, route: Route, env: Env) -> bytes:
    """A request body: mostly every known field with a valid value and one or two hostile ones, at any depth
    of the valid value (so ``quota.maxBytes`` or ``rules[0].destination`` get their turn while everything
    around them passes); sometimes random JSON, a few known fields, an array of objects, or raw bytes."""
    good = env.good_values(route)
    names = route.vocabulary or ("name",)
    usable = [name for name in names if name in good]

    def mutate(value: Any) -> Any:
        if isinstance(value, dict) and value and draw.chance(0.6):
            key = draw.pick(value) if draw.chance(0.8) else draw.pick(names)
            return {**value, key: mutate(value.get(key))}
        if isinstance(value, list) and value and draw.chance(0.6):
            index = draw.rnd.randrange(len(value))
            return [*value[:index], mutate(value[index]), *value[index + 1:]]
        return draw.hostile()

    def one_object(full: bool) -> dict[str, Any]:
        keys = usable if full and usable else draw.rnd.sample(names, min(len(names), draw.rnd.randint(1, 6)))
        body = {k: draw.pick(good.get(k, [None])) for k in keys}
        for key in draw.rnd.sample(keys, min(len(keys), draw.rnd.randint(1, 2))):
            body[key] = mutate(body[key])
        return body

    shape = draw.rnd.random()
    if shape < 0.05:
        return draw.pick(RAW_BODIES)
    if shape < 0.12:
        return encode(draw.data.draw(random_json, label="body"))
    if shape < 0.22 or route.endpoint in ARRAY_BODIES:
        return encode([one_object(draw.chance(0.8)) for _ in range(draw.rnd.randint(1, 3))])
    return encode(one_object(shape < 0.85))


NUMERIC_PARAMETERS = ("page", "perpage", "limit", "offset", "take")
PARAMETERS = NUMERIC_PARAMETERS + ("searchField", "searchQuery", "filter", "sortBy", "order", "id", "code", "long_url",
                                   "match", "noincl", "uploads", "all", "favorite")
NUMERALS = [str(n) for n in NUMBERS] + ["99999999999999999", "9" * 30, "9" * 5000, "-0", "+1", "1.0", "0x10", " 1",
                                        "\u00b2", "\u0661"]


def query(draw: Draw, route: Route) -> dict[str, str]:
    """Up to three query parameters, mostly the listing ones every dialect has, with hostile values."""
    texts = [v for v in CURATED if isinstance(v, str) and not SURROGATE.search(v)]
    args = {}
    for _ in range(draw.rnd.randint(0, 3)):
        name = draw.pick(PARAMETERS if draw.chance(0.7) else route.vocabulary or PARAMETERS)
        args[name] = draw.pick(NUMERALS if name in NUMERIC_PARAMETERS and draw.chance(0.8) else texts + NUMERALS)
    return args


def zipline_headers(draw: Draw, route: Route) -> dict[str, str]:
    """Up to three hostile upload and link headers, v4 and v3 names (latin-1, as HTTP carries them)."""
    names = [w for w in route.vocabulary if w.lower().startswith("x-zipline-")] + [
        "x-zipline-deletes-at", "x-zipline-max-views", "x-zipline-password", "x-zipline-filename",
        "x-zipline-domain", "x-zipline-folder", "x-zipline-format", "x-zipline-image-compression-percent",
        "Expires-At", "Max-Views", "Format", "Override-Domain", "Image-Compression-Percent"]
    values = [n for n in NUMERALS if n.isascii() or n == "\u00b2"] + DATES + [
        "%ED%A0%80", "a%00b", "\x01", "x" * 300, "a%2Fb", "..", "%zz", "example.com", "", "true"]
    return {draw.pick(names): draw.pick(values) for _ in range(draw.rnd.randint(0, 3))}


def describe(method: str, path: str, headers: dict, body: bytes, answer) -> str:
    shown = {k: ("<key>" if k.lower() in ("authorization", "x-api-key") else v) for k, v in headers.items()}
    return (f"{method} {path}\nheaders: {shown!r}\nbody ({len(body)} bytes): {body[:600]!r}\n"
            f"→ {answer.status_code} {answer.get_data()[:600]!r}")


def trace(route: Route, path: str, args: dict, answer, body: bytes) -> None:
    """One line per request into $ZIPSHORT_FUZZ_TRACE, to see which answers the generator reaches."""
    if os.environ.get("ZIPSHORT_FUZZ_TRACE"):
        with open(os.environ["ZIPSHORT_FUZZ_TRACE"], "a") as out:
            out.write(f"{route}\t{path}?{args}\t{answer.status_code}\t{answer.get_data()[:100]!r}\t{body[:150]!r}\n")


def refused_by_database(answer) -> bool:
    """The DataError fallback answered: a value reached the database that validation should have refused."""
    data = answer.get_json(silent=True)
    return isinstance(data, dict) and "invalid_value" in (data.get("code"), data.get("error_code"))


@pytest.mark.parametrize("route", ROUTES, ids=str)
@settings(max_examples=EXAMPLES_PER_ROUTE, derandomize=True, deadline=None, database=None, print_blob=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_generated_request_never_gets_a_server_error(env, route, data):
    env.refresh()
    draw = Draw(data)
    values = {name: env.path_value(name, draw) for name in route.arguments}
    with env.app.test_request_context():
        from flask import url_for

        path = url_for(route.endpoint, **values)
    headers = auth_headers(path, env.key)
    if route.rule.startswith("/api/") and not route.rule.startswith(("/api/v1/external/", "/api/links")):
        headers.update(zipline_headers(draw, route))
    args = query(draw, route)
    if route.rule.startswith("/api/upload"):
        body = b"<multipart: one small file>"
        payload: Any = {"file": (io.BytesIO(b"fuzz"), draw.pick(["a.txt", "a", "\x00.png", "..", "", "x" * 300]))}
        if route.rule.endswith("partial"):
            headers["Content-Range"] = draw.pick(["bytes 0-3/4", "bytes 0-3/99999999999999999999", "bytes 9-3/4",
                                                  "bytes 0-3/10", "nonsense"])
    else:
        payload = body = json_body(draw, route, env)
        headers["Content-Type"] = "application/json"
    answer = env.client.open(path, method=route.method, headers=headers, query_string=args, data=payload)
    trace(route, path, args, answer, body)
    report = describe(route.method, path, {**headers, "query": args}, body, answer)
    assert answer.status_code < 500 or (route.endpoint, answer.status_code) in DESIGNED, report
    assert not refused_by_database(answer), report
