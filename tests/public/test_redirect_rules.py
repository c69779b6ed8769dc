"""Every condition type of a rule (Shlink's eleven) matching and not matching on real redirects: User-Agent,
Accept-Language with q values, query strings, the client address (direct and behind a trusted proxy), country
and city (a generated city database and the trusted header), dates."""

from __future__ import annotations

import datetime as dt

import pytest

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 " \
         "Safari/604.1"
ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 " \
          "Safari/537.36"
EDGE = WINDOWS + " Edg/120.0.0.0"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 " \
         "Safari/605.1.15"
OPERA = WINDOWS + " OPR/105.0.0.0"
CROS = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
OLD_ANDROID = "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) AppleWebKit/534.30 " \
              "(KHTML, like Gecko) Version/4.0 Mobile Safari/534.30"
PARIS, ELSEWHERE = "198.51.100.7", "8.8.8.8"
FUTURE, PAST = "2999-01-01T00:00:00+00:00", "2001-01-01T00:00:00+00:00"


@pytest.fixture
def overrides(tmp_path):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en"], ipv4_compatible=True)
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "FR"},
                                                       "city": {"names": {"en": "Paris"}}})
    path = str(tmp_path / "city.mmdb")
    writer.to_db_file(path)
    return {"urls": {"geoip_database": path, "country_header": "CF-IPCountry"}, "core": {"trust_proxy": 1}}


def _cond(kind, value=None, key=None):
    return {"type": kind, "matchKey": key, "matchValue": value}


def _visit(client, make_link, user, rule: dict, query="", headers=None, address="127.0.0.1") -> bool:
    """Whether a visit with these facts takes the rule (else the main destination)."""
    from zipshort.services import linkfields

    make_link(user, vanity="rx", destination="https://main.example/",
              rules=linkfields.validate_rules([{"destination": {"type": "link", "value": "https://rule.example/"},
                                                **rule}], 2048))
    res = client.get(f"/go/rx{query}", headers=headers or {}, environ_base={"REMOTE_ADDR": address})
    assert res.status_code == 302
    return res.headers["Location"] == "https://rule.example/"


def _ua(agent):
    return {"User-Agent": agent}


CASES = {
    "device android": (_cond("device", "android"), {"headers": _ua(ANDROID)}, {"headers": _ua(IPHONE)}),
    "device ios": (_cond("device", "ios"), {"headers": _ua(IPHONE)}, {"headers": _ua(ANDROID)}),
    "device mobile": (_cond("device", "mobile"), {"headers": _ua(IPHONE)}, {"headers": _ua(WINDOWS)}),
    "device desktop": (_cond("device", "desktop"), {"headers": _ua(CROS)}, {"headers": _ua(ANDROID)}),
    "device windows": (_cond("device", "windows"), {"headers": _ua(EDGE)}, {"headers": _ua(SAFARI)}),
    "device macos": (_cond("device", "macos"), {"headers": _ua(SAFARI)}, {"headers": _ua(IPHONE)}),
    "device linux": (_cond("device", "linux"), {"headers": _ua(FIREFOX)}, {"headers": _ua(WINDOWS)}),
    "device chromeos": (_cond("device", "chromeos"), {"headers": _ua(CROS)}, {"headers": _ua(FIREFOX)}),
    "browser chrome": (_cond("browser", "chrome"), {"headers": _ua(ANDROID)}, {"headers": _ua(EDGE)}),
    "browser firefox": (_cond("browser", "firefox"), {"headers": _ua(FIREFOX)}, {"headers": _ua(WINDOWS)}),
    "browser edge": (_cond("browser", "edge"), {"headers": _ua(EDGE)}, {"headers": _ua(WINDOWS)}),
    "browser safari": (_cond("browser", "safari"), {"headers": _ua(IPHONE)}, {"headers": _ua(OPERA)}),
    "browser opera": (_cond("browser", "opera"), {"headers": _ua(OPERA)}, {"headers": _ua(SAFARI)}),
    "browser android": (_cond("browser", "android_browser"), {"headers": _ua(OLD_ANDROID)},
                        {"headers": _ua(ANDROID)}),
    "language region": (_cond("language", "en-US"), {"headers": {"Accept-Language": "fr, en-US;q=0.9"}},
                        {"headers": {"Accept-Language": "fr, en-US;q=0.8"}}),
    "language needs the region": (_cond("language", "en_US"), {"headers": {"Accept-Language": "EN_us"}},
                                  {"headers": {"Accept-Language": "en"}}),
    "language any region": (_cond("language", "en"), {"headers": {"Accept-Language": "en-GB"}},
                            {"headers": {"Accept-Language": "*"}}),
    "language other region": (_cond("language", "en-US"), {"headers": {"Accept-Language": "en-US"}},
                              {"headers": {"Accept-Language": "en-GB"}}),
    "query-param": (_cond("query-param", "bar", "foo"), {"query": "?foo=bar"}, {"query": "?foo=baz"}),
    "query-param absent": (_cond("query-param", "bar", "foo"), {"query": "?x=1&foo=bar"}, {"query": "?foo"}),
    "any-value": (_cond("any-value-query-param", None, "foo"), {"query": "?foo"}, {"query": "?bar=foo"}),
    "any-value with one": (_cond("any-value-query-param", None, "foo"), {"query": "?foo=1"}, {}),
    "valueless": (_cond("valueless-query-param", None, "foo"), {"query": "?foo="}, {"query": "?foo=1"}),
    "valueless zero": (_cond("valueless-query-param", None, "foo"), {"query": "?foo=0"}, {"query": "?bar"}),
    "ip static": (_cond("ip-address", PARIS), {"address": PARIS}, {"address": "198.51.100.8"}),
    "ip cidr": (_cond("ip-address", "198.51.100.0/25"), {"address": PARIS}, {"address": "198.51.100.200"}),
    "ip wildcard": (_cond("ip-address", "198.*.100.*"), {"address": PARIS}, {"address": "198.51.101.7"}),
    "ip ipv6 never": (_cond("ip-address", "*.*.*.*"), {"address": "::ffff:1.2.3.4"}, {"address": "2001:db8::1"}),
    "ip behind the proxy": (_cond("ip-address", "1.2.3.4"), {"headers": {"X-Forwarded-For": "1.2.3.4"}},
                            {"address": "127.0.0.1", "headers": {"X-Forwarded-For": "1.2.3.5"}}),
    "country by address": (_cond("geolocation-country-code", "FR"), {"address": PARIS}, {"address": ELSEWHERE}),
    "country by header": (_cond("geolocation-country-code", "CH"), {"headers": {"CF-IPCountry": "ch"}},
                          {"headers": {"CF-IPCountry": "XX"}}),
    "city": (_cond("geolocation-city-name", "paris"), {"address": PARIS}, {"address": ELSEWHERE}),
    "before-date": (_cond("before-date", FUTURE), {}, None),
    "before-date past": (_cond("before-date", PAST), None, {}),
    "after-date": (_cond("after-date", PAST), {}, None),
    "after-date future": (_cond("after-date", FUTURE), None, {}),
}


VISITS = [pytest.param(condition, visit, matching, id=f"{name} {'matches' if matching else 'does not'}")
          for name, (condition, yes, no) in CASES.items()
          for visit, matching in ((yes, True), (no, False)) if visit is not None]


@pytest.mark.parametrize("condition,visit,matching", VISITS)
def test_each_condition_type_matches_and_does_not(client, make_link, user, condition, visit, matching):
    assert _visit(client, make_link, user, {"conditions": [condition]}, **visit) is matching


def test_conditions_and_lists_must_all_match(client, make_link, user):
    rule = {"countries": ["FR", "DE"], "conditions": [_cond("device", "mobile"), _cond("query-param", "1", "p")]}
    assert _visit(client, make_link, user, rule, "?p=1", _ua(IPHONE), PARIS)
    for query, agent, address in (("?p=2", IPHONE, PARIS), ("?p=1", WINDOWS, PARIS), ("?p=1", IPHONE, ELSEWHERE)):
        res = client.get(f"/go/rx{query}", headers=_ua(agent), environ_base={"REMOTE_ADDR": address})
        assert res.headers["Location"] == "https://main.example/"


def test_a_rule_with_no_conditions_never_matches(client, make_link, user):
    assert not _visit(client, make_link, user, {"conditions": []}, headers=_ua(IPHONE), address=PARIS)


def test_rules_look_up_only_what_they_need(client, make_link, user, rt):
    assert _visit(client, make_link, user, {"conditions": [_cond("query-param", "1", "q")]}, "?q=1",
                  _ua(IPHONE), PARIS)
    assert rt.country.cache_size() == 0 and rt.agents.cache_size() == 0  # no place, no agent parsed
    rt.link_cache.clear()
    from zipshort.services import links

    links.update_link(rt, user, links.get_owned_link(user, _only_id()).id, links.LinkChanges(rules=[
        {"destination": {"type": "link", "value": "https://rule.example/"},
         "conditions": [_cond("geolocation-city-name", "Paris")]}]))
    assert client.get("/go/rx", environ_base={"REMOTE_ADDR": PARIS}).headers["Location"] == "https://rule.example/"
    assert rt.country.cache_size() == 1 and rt.agents.cache_size() == 0


def _only_id():
    from tests.conftest import only_link

    return only_link().id


def test_dates_are_compared_with_the_visit_time(app, rt, make_link, user):
    from zipshort.events import Visitor as Seen
    from zipshort.services import linkfields, smart

    at = "2030-06-01T12:00:00+00:00"
    rules = linkfields.validate_rules([{"destination": {"type": "link", "value": "https://rule.example/"},
                                        "conditions": [_cond("before-date", at)]}], 2048)
    before = dt.datetime(2030, 6, 1, 11, 59, 59, tzinfo=dt.timezone.utc)
    visitor = smart.visitor_of(rt, smart.needs(rules), Seen(), now=before)
    assert smart.rule_matches(rules[0], visitor)
    assert not smart.rule_matches(rules[0], smart.visitor_of(rt, smart.needs(rules), Seen(),
                                                                 now=before + dt.timedelta(seconds=1)))
