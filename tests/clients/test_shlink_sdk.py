"""Shlink's official JS SDK (``@shlinkio/shlink-js-sdk``, pinned in shlink-sdk/package-lock.json) works against
zipshort as it is: one Node process runs the SDK calls of ``shlink-sdk/scenario.mjs`` against a live server, the
way Shlink's web client makes them, and the tests below check every step's values against the reference
(/work/shared/reference/shlink.md §14; the data set is small enough to know every answer).

The SDK is installed with ``npm ci`` into shlink-sdk/node_modules (git-ignored), again only when the lock file
changed. Without node or npm, or without the npm registry, the tests skip locally and fail under CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import sqlalchemy as sa

from tests.conftest import LiveServer, base_overrides, fetch, require_tool, service_missing

pytestmark = pytest.mark.slow

SDK_DIR = Path(__file__).parent / "shlink-sdk"
CLIENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
ERROR = "https://shlink.io/api/error/"
DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
SHORT_URL_KEYS = {"shortUrl", "shortCode", "longUrl", "dateCreated", "tags", "meta", "domain", "title", "crawlable",
                  "forwardQuery", "visitsSummary", "hasRedirectRules"}
VISIT_KEYS = {"referer", "date", "userAgent", "visitLocation", "potentialBot", "visitedUrl", "redirectUrl"}
LOCATION_KEYS = {"countryCode", "countryName", "regionName", "cityName", "latitude", "longitude", "timezone",
                 "isEmpty"}
NO_REDIRECTS = {"baseUrlRedirect": None, "regular404Redirect": None, "invalidShortUrlRedirect": None}
# The user agents scenario.mjs sends.
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
UNKNOWN = "no-such-code-9q"


def sdk_installed() -> bool:
    """Whether node_modules holds exactly what the lock file pins (npm keeps a copy of it there)."""
    def packages(path: Path) -> dict[str, Any]:
        return {name: (entry.get("version"), entry.get("integrity"))
                for name, entry in json.loads(path.read_text())["packages"].items() if name}

    installed = SDK_DIR / "node_modules" / ".package-lock.json"
    return installed.exists() and packages(installed) == packages(SDK_DIR / "package-lock.json")


@pytest.fixture(scope="module")
def node() -> str:
    """Node, with the SDK installed next to the scenario."""
    node = require_tool("node", "it runs Shlink's JS SDK")
    npm = require_tool("npm", "it installs Shlink's JS SDK")
    if not sdk_installed():
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"], cwd=SDK_DIR,
                                  capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired as exc:
            service_missing("the npm registry", exc)
        if done.returncode != 0:
            service_missing("the npm registry (npm ci)", RuntimeError(done.stderr.strip()[-2000:]))
    return node


class Scenario:
    """The steps of one run, by name, and the server they ran against."""

    def __init__(self, url: str, lines: list[dict[str, Any]], code_length: int) -> None:
        self.url = url
        self.code_length = code_length  # zipshort's urls.length: Shlink's DEFAULT_SHORT_CODES_LENGTH
        self.authority = url.split("://", 1)[1]
        self.steps = {line["step"]: line for line in lines}
        self.types: dict[str, str] = self.result("error-types")  # the SDK's ErrorType constants

    def result(self, name: str) -> Any:
        """What the SDK returned for step ``name`` (fails with the error when it threw)."""
        line = self.steps.get(name)
        assert line is not None, f"step {name} did not run"
        assert line["ok"], f"step {name} failed: {line['error']}"
        return line["result"]

    def error(self, name: str, kind: str, status: int) -> dict[str, Any]:
        """The problem details the SDK threw for step ``name``, checked to be of ErrorType ``kind``."""
        line = self.steps.get(name)
        assert line is not None, f"step {name} did not run"
        assert not line["ok"], f"step {name} should have failed but returned {line['result']}"
        problem = line["error"]
        assert "jsError" not in problem, f"the SDK could not read the error of {name}: {problem}"
        assert problem["type"] == self.types[kind] and problem["status"] == status, problem
        assert isinstance(problem["title"], str) and isinstance(problem["detail"], str), problem
        return problem

    def code(self, name: str) -> str:
        return self.result(name)["shortCode"]

    def codes(self, name: str) -> list[str]:
        return [item["shortCode"] for item in self.result(name)["data"]]


@pytest.fixture(scope="module")
def run(node, sqlite_template, tmp_path_factory) -> Iterator[Scenario]:
    """Run the whole scenario once against a fresh server, as `zipshort serve` runs it (the visit writer on)."""
    from zipshort import create_app
    from zipshort.config import load_settings
    from zipshort.extensions import db
    from zipshort.models import ApiKey, Role
    from zipshort.services import accounts, apikeys
    from zipshort.services.analytics import VisitWriter

    folder = tmp_path_factory.mktemp("shlink-sdk")
    shutil.copy(sqlite_template, folder / "zipshort.db")
    settings = load_settings(base_overrides(folder, analytics={"flush_seconds": 0.05}), environ={},
                             instance_path=folder)
    app = create_app(settings)
    rt = app.extensions["zipshort"]
    with app.app_context():
        # Shlink's admin key (no roles: it may do everything) is an administrator's key with every scope.
        admin = accounts.create_user(rt, "shlink-admin", "correct horse", Role.ADMIN)
        key = apikeys.create_key(rt, apikeys.Actor.console(), admin, name="shlink-sdk", scopes=apikeys.ALL_SCOPES)[1]
        # Shlink's AUTHORED_SHORT_URLS role: no door mints one yet, so the role is set on the row.
        row, authored = apikeys.create_key(rt, apikeys.Actor.console(), admin, name="shlink-sdk-authored")
        db.session.execute(sa.update(ApiKey).where(ApiKey.id == row.id).values(authored_only=True))
        db.session.commit()
        engine = db.engine
        db.session.remove()
    writer = VisitWriter(rt, engine).start()
    server = LiveServer(app)
    try:
        done = subprocess.run([node, "scenario.mjs", server.url, key, authored], cwd=SDK_DIR, capture_output=True,
                              text=True, timeout=120)
    finally:
        server.close()
        writer.stop()
        engine.dispose()
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines and lines[-1]["step"] == "done", done.stdout[-2000:] + done.stderr
    yield Scenario(server.url, lines, settings.urls.length)


def check_short_url(item: dict[str, Any], scenario: Scenario) -> None:
    """The ShortUrl object of §5.1: every key, the default domain as null, ATOM dates, bots = total - nonBots."""
    assert set(item) == SHORT_URL_KEYS, item
    assert item["shortUrl"].startswith(scenario.url + "/") and item["shortUrl"].endswith("/" + item["shortCode"])
    assert item["domain"] is None
    assert DATE.fullmatch(item["dateCreated"]), item["dateCreated"]
    assert set(item["meta"]) == {"validSince", "validUntil", "maxVisits"}
    summary = item["visitsSummary"]
    assert set(summary) == {"total", "nonBots", "bots"} and summary["bots"] == summary["total"] - summary["nonBots"]
    assert isinstance(item["hasRedirectRules"], bool) and isinstance(item["tags"], list)


def pagination(current: int, pages: int, per_page: int, in_page: int, total: int) -> dict[str, int]:
    return {"currentPage": current, "pagesCount": pages, "itemsPerPage": per_page, "itemsInCurrentPage": in_page,
            "totalItems": total}


def summary(total: int, non_bots: int) -> dict[str, int]:
    return {"total": total, "nonBots": non_bots, "bots": total - non_bots}


# --- health, authentication, the empty server ----------------------------------------------------------------

def test_health_answers_pass_and_the_version_even_with_a_bad_key(run):
    expected = {"status": "pass", "version": "5.1.5",
                "links": {"about": "https://shlink.io", "project": "https://github.com/shlinkio/shlink"}}
    assert run.result("health") == expected
    assert run.result("health-bad-key") == expected


def test_the_sdk_error_constants_are_shlinks_uris(run):
    assert run.types["INVALID_ARGUMENT"] == ERROR + "invalid-data"
    assert run.types["INVALID_SHORTCODE"] == ERROR + "short-url-not-found"
    assert len(run.types) == 13


def test_a_bad_key_is_refused_in_problem_details(run):
    assert run.error("list-bad-key", "INVALID_API_KEY", 401)["title"] == "Invalid API key"


def test_an_empty_key_is_a_missing_one(run):
    missing = run.error("list-no-key", "INVALID_AUTHORIZATION", 401)
    assert missing["title"] == "Invalid authorization" and missing["expectedHeaders"] == ["X-Api-Key"]


def test_mercure_is_not_configured(run):
    run.error("mercure-info", "MERCURE_NOT_CONFIGURED", 501)


def test_the_empty_list_has_one_page(run):
    assert run.result("list-empty") == {"data": [], "pagination": pagination(1, 1, 10, 0, 0)}


# --- create ----------------------------------------------------------------------------------------------------

def test_create_echoes_the_long_url_with_shlinks_defaults(run):
    created = run.result("create-minimal")
    check_short_url(created, run)
    assert created["longUrl"] == "https://example.com/sdk/one"
    assert re.fullmatch(rf"[0-9a-zA-Z]{{{run.code_length}}}", created["shortCode"])
    assert created["tags"] == [] and created["title"] is None
    assert created["meta"] == {"validSince": None, "validUntil": None, "maxVisits": None}
    assert (created["crawlable"], created["forwardQuery"], created["hasRedirectRules"]) == (False, True, False)
    assert created["visitsSummary"] == summary(0, 0)


def test_the_list_holds_exactly_the_created_object(run):
    # The SDK's own integration test: listShortUrls().data deep-equals what createShortUrl returned.
    assert run.result("list-after-create") == {"data": [run.result("create-minimal")],
                                               "pagination": pagination(1, 1, 10, 1, 1)}


def test_create_with_every_option(run):
    created = run.result("create-full")
    check_short_url(created, run)
    assert created["shortCode"] == "sdk-two"  # the slug's space became "-"
    assert created["longUrl"] == "https://example.com/sdk/two"
    assert sorted(created["tags"]) == ["bar", "baz-baz", "foo"]  # lowercased, spaces to "-", de-duplicated
    assert created["title"] == "Second"
    assert created["meta"] == {"validSince": "2020-01-01T00:00:00+00:00", "validUntil": None, "maxVisits": 3}
    assert created["crawlable"] is True
    assert created["forwardQuery"] is True  # the SDK never sends forwardQuery: false (it drops falsy fields)


def test_create_and_get_answer_the_same_object(run):
    assert run.result("get-full") == run.result("create-full")


def test_find_if_exists_returns_the_match_or_creates(run):
    assert run.result("find-if-exists-hit") == run.result("get-full")
    made = run.result("find-if-exists-miss")  # same long URL, another tag set
    check_short_url(made, run)
    assert made["longUrl"] == "https://example.com/sdk/two" and made["tags"] == ["bar"]
    assert re.fullmatch(r"[0-9a-zA-Z]{8}", made["shortCode"])
    until = run.result("create-valid-until")
    assert until["meta"] == {"validSince": None, "validUntil": "2099-01-01T00:00:00+00:00", "maxVisits": None}
    assert (until["title"], until["tags"]) == ("Alpha", ["foo"])


def test_create_errors(run):
    taken = run.error("create-slug-taken", "INVALID_SLUG", 400)
    assert taken["customSlug"] == "sdk-two" and "domain" not in taken
    assert run.error("create-no-scheme", "INVALID_ARGUMENT", 400)["invalidElements"] == ["longUrl"]


def test_create_names_every_invalid_field(run):
    bad = run.error("create-bad-values", "INVALID_ARGUMENT", 400)
    assert sorted(bad["invalidElements"]) == ["maxVisits", "shortCodeLength"]


# --- list ------------------------------------------------------------------------------------------------------

def test_list_filters(run):
    a, b, c, d = (run.code(n) for n in ("create-minimal", "create-full", "find-if-exists-miss", "create-valid-until"))
    assert sorted(run.codes("list-tags-any")) == sorted([b, d])
    assert run.codes("list-tags-all") == [b]
    assert sorted(run.codes("list-tags-any-two")) == sorted([b, c, d])
    assert sorted(run.codes("list-exclude-tags")) == sorted([a, c])
    assert run.codes("list-search") == [d]
    everything = run.result("list-domain-default")
    assert sorted(item["shortCode"] for item in everything["data"]) == sorted([a, b, c, d])
    assert everything["pagination"] == pagination(1, 1, 4, 4, 4)  # -1: every item, itemsPerPage = the count


def test_list_can_leave_out_short_urls_past_their_valid_until(run):
    a, b, c, d = (run.code(n) for n in ("create-minimal", "create-full", "find-if-exists-miss", "create-valid-until"))
    past = run.result("create-past-valid-until")  # Shlink takes any date, a past one too
    assert past["meta"] == {"validSince": None, "validUntil": "2021-01-01T00:00:00+00:00", "maxVisits": None}
    assert sorted(run.codes("list-exclude-past-valid-until")) == sorted([a, b, c, d])
    assert run.result("delete-past-valid-until") is None


def test_list_ordering_and_pages(run):
    a, b, c, d = (run.code(n) for n in ("create-minimal", "create-full", "find-if-exists-miss", "create-valid-until"))
    by_title = run.codes("list-order-title")  # no title sorts as ""
    assert sorted(by_title[:2]) == sorted([a, c]) and by_title[2:] == [d, b]
    page = run.result("list-page-2")  # title DESC, two a page: Second, Alpha | the two without a title
    assert sorted(item["shortCode"] for item in page["data"]) == sorted([a, c])
    assert page["pagination"] == pagination(2, 2, 2, 2, 4)
    for item in page["data"]:
        check_short_url(item, run)


def test_list_refuses_an_unknown_order_and_mode(run):
    problem = run.error("list-bad-order", "INVALID_ARGUMENT", 400)
    assert sorted(problem["invalidElements"]) == ["orderBy", "tagsMode"]


# --- get -------------------------------------------------------------------------------------------------------

def test_get_unknown_or_on_another_domain_is_not_found(run):
    unknown = run.error("get-unknown", "INVALID_SHORTCODE", 404)
    assert unknown["shortCode"] == UNKNOWN and "domain" not in unknown
    other = run.error("get-other-domain", "INVALID_SHORTCODE", 404)  # no fallback to the default domain
    assert (other["shortCode"], other["domain"]) == ("sdk-two", "other.example")


# --- visits ----------------------------------------------------------------------------------------------------

def test_visitors_are_redirected_and_used_up_or_unknown_codes_are_not_found(run):
    assert run.result("visit-a-bot") == {"status": 302, "location": "https://example.com/sdk/one"}
    assert [answer["status"] for answer in run.result("visit-b-three")] == [302, 302, 302]
    assert run.result("visit-b-exhausted") == {"status": 404, "location": None}  # maxVisits reached
    assert run.result("visit-unknown-code") == {"status": 404, "location": None}


def test_the_visitors_query_is_forwarded(run):
    # forwardQuery is on (the SDK never sends it false): the visitor's query joins the long URL's.
    assert run.result("visit-a-chrome") == {"status": 302, "location": "https://example.com/sdk/one?src=sdk"}
    assert run.result("visit-b-three") == [{"status": 302, "location": f"https://example.com/sdk/two?n={i}"}
                                           for i in range(3)]
    chrome = run.result("short-url-visits")["data"][1]
    assert chrome["redirectUrl"] == "https://example.com/sdk/one?src=sdk"  # where the visitor was sent
    # After the edit, to the new long URL; with rules, to the chosen rule's URL or the short URL's own.
    assert run.result("visit-b-live-again") == {"status": 302, "location": "https://example.com/sdk/two-edited?n=4"}
    assert run.result("visit-rule-promo") == {"status": 302, "location": "https://example.com/promo?promo=yes"}
    assert run.result("visit-rule-none") == {"status": 302, "location": "https://example.com/sdk/one?promo=yes"}


def test_the_visits_overview_counts_bots_and_orphans(run):
    assert run.result("visits-overview") == {"nonOrphanVisits": summary(5, 4), "orphanVisits": summary(2, 2)}


def test_short_url_visits_newest_first(run):
    short_url = run.result("create-minimal")["shortUrl"]
    visits = run.result("short-url-visits")
    assert visits["pagination"] == pagination(1, 1, 2, 2, 2)
    bot, chrome = visits["data"]
    for visit in (bot, chrome):
        assert set(visit) == VISIT_KEYS, visit
        assert DATE.fullmatch(visit["date"])
        assert visit["visitLocation"] is None or set(visit["visitLocation"]) == LOCATION_KEYS
    assert (bot["userAgent"], bot["potentialBot"], bot["referer"]) == (GOOGLEBOT, True, "")
    assert (bot["visitedUrl"], bot["redirectUrl"]) == (short_url, "https://example.com/sdk/one")
    assert (chrome["userAgent"], chrome["potentialBot"]) == (CHROME, False)
    assert chrome["referer"] == "https://referrer.example/page"
    assert chrome["visitedUrl"] == short_url + "?src=sdk"
    assert chrome["redirectUrl"].startswith("https://example.com/sdk/one")  # the query: see the forwarding test
    assert run.result("short-url-visits-no-bots") == {"data": [chrome], "pagination": pagination(1, 1, 1, 1, 1)}
    assert run.result("short-url-visits-page-2") == {"data": [chrome], "pagination": pagination(2, 2, 1, 1, 2)}
    assert run.error("short-url-visits-unknown", "INVALID_SHORTCODE", 404)["shortCode"] == UNKNOWN


def test_tag_and_domain_visits(run):
    b_url = run.result("create-full")["shortUrl"]
    for name in ("tag-visits-foo", "tag-visits-bar"):  # only sdk-two has visits; both tags are on it
        visits = run.result(name)
        assert [v["visitedUrl"] for v in visits["data"]] == [f"{b_url}?n={i}" for i in (2, 1, 0)]
        assert visits["pagination"] == pagination(1, 1, 3, 3, 3)
    assert run.error("tag-visits-unknown", "TAG_NOT_FOUND", 404)["tag"] == "no-such-tag"
    for name in ("domain-visits-default", "domain-visits-authority"):
        assert run.result(name)["pagination"]["totalItems"] == 5
    assert run.error("domain-visits-unknown", "DOMAIN_NOT_FOUND", 404)["authority"] == "unknown.example"


def test_orphan_visits(run):
    a = run.result("create-minimal")
    b_url = run.result("create-full")["shortUrl"]
    orphans = run.result("orphan-visits")
    assert orphans["pagination"] == pagination(1, 1, 2, 2, 2)
    unknown, exhausted = orphans["data"]
    assert set(unknown) == VISIT_KEYS | {"type"}
    assert unknown["visitedUrl"] == a["shortUrl"][:-len(a["shortCode"])] + UNKNOWN
    assert exhausted["visitedUrl"] == b_url  # a used-up short URL is an invalid short URL
    assert {v["type"] for v in orphans["data"]} == {"invalid_short_url"}
    assert {v["redirectUrl"] for v in orphans["data"]} == {None}  # the 404 page, no special redirect
    assert run.result("orphan-visits-invalid-short-url") == orphans
    assert run.result("orphan-visits-base-url") == {"data": [], "pagination": pagination(1, 1, 1, 0, 0)}
    assert run.error("orphan-visits-bad-type", "INVALID_ARGUMENT", 400)["invalidElements"] == ["type"]


def test_non_orphan_visits(run):
    everything = run.result("non-orphan-visits")
    assert everything["pagination"]["totalItems"] == 5
    assert [v["potentialBot"] for v in everything["data"]].count(True) == 1
    no_bots = run.result("non-orphan-visits-no-bots")
    assert no_bots["pagination"]["totalItems"] == 4 and not any(v["potentialBot"] for v in no_bots["data"])
    assert run.result("domain-visits-default") == everything


def test_visit_counts_show_on_short_urls_lists_and_tags(run):
    a, b, c, d = (run.code(n) for n in ("create-minimal", "create-full", "find-if-exists-miss", "create-valid-until"))
    assert run.result("get-after-visits")["visitsSummary"] == summary(2, 1)
    by_visits = run.codes("list-order-visits")
    assert by_visits[:2] == [b, a] and sorted(by_visits[2:]) == sorted([c, d])
    assert sorted(run.codes("list-exclude-max-visits-reached")) == sorted([a, c, d])
    assert run.result("tags-stats")["data"] == [
        {"tag": "bar", "shortUrlsCount": 2, "visitsSummary": summary(3, 3)},
        {"tag": "baz-baz", "shortUrlsCount": 1, "visitsSummary": summary(3, 3)},
        {"tag": "foo", "shortUrlsCount": 2, "visitsSummary": summary(3, 3)},
    ]


def test_deleting_visits(run):
    assert run.result("delete-short-url-visits") == {"deletedVisits": 2}
    assert run.result("get-after-visits-deleted")["visitsSummary"] == summary(0, 0)
    assert run.result("delete-orphan-visits") == {"deletedVisits": 2}
    assert run.result("visits-overview-after-delete") == {"nonOrphanVisits": summary(3, 3),
                                                          "orphanVisits": summary(0, 0)}


# --- edit ------------------------------------------------------------------------------------------------------

def test_update_replaces_tags_in_the_given_order(run):
    updated = run.result("update-tags")
    before = run.result("get-after-visits-deleted")
    assert updated == {**before, "tags": ["one", "two"]}


def test_update_clears_with_null_and_keeps_what_is_absent(run):
    updated = run.result("update-clear")
    check_short_url(updated, run)
    created = run.result("create-full")
    assert updated["longUrl"] == "https://example.com/sdk/two-edited"
    assert updated["title"] is None
    assert updated["meta"] == {"validSince": None, "validUntil": None, "maxVisits": None}
    assert sorted(updated["tags"]) == ["bar", "baz-baz", "foo"] and updated["crawlable"] is True
    assert (updated["shortCode"], updated["dateCreated"]) == (created["shortCode"], created["dateCreated"])
    assert updated["visitsSummary"] == summary(3, 3)
    # No limit any more: the used-up short URL redirects again, to its new long URL.
    again = run.result("visit-b-live-again")
    assert again["status"] == 302 and again["location"].startswith("https://example.com/sdk/two-edited")


def test_update_errors(run):
    assert run.error("update-bad-long-url", "INVALID_ARGUMENT", 400)["invalidElements"] == ["longUrl"]
    assert run.error("update-unknown", "INVALID_SHORTCODE", 404)["shortCode"] == UNKNOWN


# --- redirect rules --------------------------------------------------------------------------------------------

def test_redirect_rules_replace_and_renumber(run):
    assert run.result("rules-empty") == {"defaultLongUrl": "https://example.com/sdk/one", "redirectRules": []}
    expected = {"defaultLongUrl": "https://example.com/sdk/one", "redirectRules": [
        {"longUrl": "https://example.com/android", "priority": 1,
         "conditions": [{"type": "device", "matchKey": None, "matchValue": "android"}]},
        {"longUrl": "https://example.com/promo", "priority": 2,
         "conditions": [{"type": "query-param", "matchKey": "promo", "matchValue": "yes"},
                        {"type": "language", "matchKey": None, "matchValue": "es"}]},
    ]}
    assert run.result("rules-set") == expected
    assert run.result("rules-get") == expected
    assert run.result("get-with-rules")["hasRedirectRules"] is True
    assert run.result("rules-clear") == {"defaultLongUrl": "https://example.com/sdk/one", "redirectRules": []}
    assert run.result("get-without-rules")["hasRedirectRules"] is False


def test_redirect_rules_pick_the_visitors_destination(run):
    assert run.result("visit-rule-android") == {"status": 302, "location": "https://example.com/android"}
    # Every condition of the rule matches (the query forwarded or not: see the forwarding test).
    promo = run.result("visit-rule-promo")
    assert promo["status"] == 302 and promo["location"].split("?")[0] == "https://example.com/promo"
    # Spanish only at q=0.5 (a language matches at q >= 0.9): no rule, the short URL's own long URL.
    none = run.result("visit-rule-none")
    assert none["status"] == 302 and none["location"].split("?")[0] == "https://example.com/sdk/one"


def test_redirect_rules_errors(run):
    assert run.error("rules-bad-device", "INVALID_ARGUMENT", 400)["invalidElements"]
    assert run.error("rules-unknown", "INVALID_SHORTCODE", 404)["shortCode"] == UNKNOWN


# --- tags ------------------------------------------------------------------------------------------------------

def test_tags_are_listed_sorted_and_renamed_without_normalizing(run):
    assert run.result("tags-list") == {"data": ["bar", "baz-baz", "foo", "one", "two"],
                                       "pagination": pagination(1, 1, 5, 5, 5)}
    assert run.result("tag-rename") == {"oldName": "foo", "newName": "fooRenamed"}
    assert run.result("tags-after-rename")["data"] == ["bar", "baz-baz", "fooRenamed", "one", "two"]
    assert sorted(run.result("get-after-rename")["tags"]) == ["bar", "baz-baz", "fooRenamed"]


def test_tag_rename_errors(run):
    conflict = run.error("tag-rename-conflict", "TAG_CONFLICT", 409)
    assert (conflict["oldName"], conflict["newName"]) == ("bar", "one")
    assert run.error("tag-rename-unknown", "TAG_NOT_FOUND", 404)["tag"] == "ghost"


def test_deleting_tags_detaches_them_and_ignores_unknown_names(run):
    assert run.result("tags-delete") == {"tags": ["one", "ghost"]}
    assert run.result("tags-after-delete")["data"] == ["bar", "baz-baz", "fooRenamed", "two"]
    assert run.result("get-after-tag-delete")["tags"] == ["two"]


# --- domains ---------------------------------------------------------------------------------------------------

def test_domains_list_the_default_domain_first(run):
    assert run.result("domains-list") == {
        "data": [{"domain": run.authority, "isDefault": True, "redirects": NO_REDIRECTS}],
        "defaultRedirects": NO_REDIRECTS}


def test_domain_redirects_merge_and_clear(run):
    invalid = "https://example.com/missing/{DOMAIN}"
    assert run.result("domain-redirects-set") == {**NO_REDIRECTS, "invalidShortUrlRedirect": invalid}
    merged = {**NO_REDIRECTS, "invalidShortUrlRedirect": invalid, "regular404Redirect": "https://example.com/404"}
    assert run.result("domain-redirects-merge") == merged
    assert run.result("domains-after-redirects") == {
        "data": [{"domain": run.authority, "isDefault": True, "redirects": merged}], "defaultRedirects": NO_REDIRECTS}
    assert run.error("domain-redirects-bad-domain", "INVALID_ARGUMENT", 400)["invalidElements"] == ["domain"]
    assert run.result("domain-redirects-clear") == NO_REDIRECTS


def test_domain_redirects_send_visitors_of_unknown_codes_away(run):
    assert run.result("visit-unknown-code-redirected") == {
        "status": 302, "location": f"https://example.com/missing/{run.authority}"}


# --- a key limited to the short URLs it created (AUTHORED_SHORT_URLS) -------------------------------------------

def test_an_authored_only_key_sees_what_it_created_and_may_not_touch_tags(run):
    mine = run.result("authored-create")
    check_short_url(mine, run)
    assert mine["tags"] == ["mine"]
    assert run.result("authored-list") == {"data": [mine], "pagination": pagination(1, 1, 10, 1, 1)}
    other = run.error("authored-get-other", "INVALID_SHORTCODE", 404)
    assert other["shortCode"] == run.code("create-minimal")
    assert run.result("authored-tags")["data"] == ["mine"]  # only the tags of its own short URLs
    assert run.error("authored-tag-rename", "FORBIDDEN_OPERATION", 403)["title"] == "Forbidden tag operation"
    run.error("authored-tags-delete", "FORBIDDEN_OPERATION", 403)


# --- delete and the clean-up of the SDK's integration tests ----------------------------------------------------

def test_delete(run):
    assert run.result("delete-short-url") is None  # 204
    assert run.error("get-deleted", "INVALID_SHORTCODE", 404)["shortCode"] == run.code("find-if-exists-miss")
    assert run.error("delete-unknown", "INVALID_SHORTCODE", 404)["shortCode"] == UNKNOWN


def test_cleanup_leaves_nothing(run):
    a, b, d, f = (run.code(n) for n in ("create-minimal", "create-full", "create-valid-until", "authored-create"))
    cleanup = run.result("cleanup")
    assert sorted(cleanup["deleted"]) == sorted([a, b, d, f])  # the admin key sees what the other key made
    assert cleanup["tags"] == ["bar", "baz-baz", "fooRenamed", "mine", "two"]
    assert run.result("list-after-cleanup") == {"data": [], "pagination": pagination(1, 1, 10, 0, 0)}
    assert run.result("tags-after-cleanup")["data"] == []


# --- the ShareX config docs/clients.md gives Shlink users ------------------------------------------------------

@pytest.fixture
def backend() -> str:
    return "sqlite"


def documented_sharex_config(origin: str, key: str) -> dict[str, Any]:
    """The .sxcu of docs/clients.md's Shlink section, for this server and key."""
    section = CLIENTS_DOC.read_text().split("## Shlink clients", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S)
    assert block is not None, "docs/clients.md: no ShareX config in the Shlink section"
    return json.loads(block.group(1).replace("https://short.example", origin).replace("…your key…", key))


def generated_sharex_config(origin: str) -> dict[str, Any]:
    """zipshort-shlink.sxcu as the dashboard generates it for a logged-in user (it holds their token)."""
    with requests.Session() as browser:
        page = browser.get(origin + "/auth/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        browser.post(origin + "/auth/login", data={"username": "alice", "password": "correct horse",
                                                   "csrf_token": csrf.group(1)})
        res = browser.get(origin + "/dashboard/settings/generators/zipshort-shlink.sxcu")
        assert res.status_code == 200, res.text
        return json.loads(res.text)


@pytest.mark.parametrize("source", ["docs", "generator"])
def test_the_sharex_config_for_shlink_shortens_as_sharex_uses_it(live_server, user, make_key, source):
    if source == "docs":
        config = documented_sharex_config(live_server.url, make_key(user))
    else:
        config = generated_sharex_config(live_server.url)
    assert config["DestinationType"] == "URLShortener, URLSharingService"
    assert config["Body"] == "JSON" and config["URL"] == "{json:shortUrl}"
    target = 'https://example.com/a?b="c"&d=1'

    def shorten() -> str:  # ShareX: {input} JSON-escaped into Data, the URL read at {json:shortUrl}
        data = config["Data"].replace("{input}", json.dumps(target)[1:-1])
        res = requests.request(config["RequestMethod"], config["RequestURL"], data=data.encode(),
                               headers={**config["Headers"], "Content-Type": "application/json"}, timeout=30)
        assert res.status_code == 200, res.text
        return res.json()["shortUrl"]

    url = shorten()
    assert fetch("GET", url).headers["Location"] == "https://example.com/a?b=%22c%22&d=1"
    assert shorten() == url  # findIfExists: the same link again, not a second one


# --- what Shlink's web client needs beyond the SDK: it runs in a browser, cross-origin ---------------------------

PREFLIGHTS = {  # every path the SDK calls with a method other than GET, and the methods Shlink routes there
    "/rest/v3/short-urls": {"GET", "POST"},
    "/rest/v3/short-urls/abc12": {"GET", "PATCH", "DELETE"},
    "/rest/v3/short-urls/abc12/visits": {"GET", "DELETE"},
    "/rest/v3/short-urls/abc12/redirect-rules": {"GET", "POST", "PATCH"},
    "/rest/v3/tags": {"GET", "PUT", "DELETE"},
    "/rest/v3/visits/orphan": {"GET", "DELETE"},
    "/rest/v3/domains/redirects": {"PATCH"},
}


def test_browser_preflights_allow_every_method_of_the_path(live_server):
    allowed = {}
    for path, methods in PREFLIGHTS.items():
        asked = sorted(methods - {"GET"})[0]
        res = fetch("OPTIONS", live_server.url + path, headers={
            "Origin": "https://app.shlink.io", "Access-Control-Request-Method": asked,
            "Access-Control-Request-Headers": "content-type,x-api-key"})
        assert res.status_code == 204 and res.headers["Access-Control-Allow-Origin"] == "*"
        assert res.headers["Access-Control-Allow-Headers"] == "content-type,x-api-key"
        allowed[path] = set(res.headers["Access-Control-Allow-Methods"].split(","))
    assert allowed == PREFLIGHTS
