"""Rule conditions (Shlink's types) validated into the stored form; stored rules read flat (h0p's lists multiplied
out); the door that replaces every rule of a link at once."""

from __future__ import annotations

import pytest

from zipshort.errors import Forbidden, NotFound, ValidationError
from zipshort.events import LinkUpdated
from zipshort.services import conditions, linkfields, redirectrules


def _cond(kind, value=None, key=None):
    return {"type": kind, "matchKey": key, "matchValue": value}


def _validated(*conds):
    rules = linkfields.validate_rules([{"destination": {"type": "link", "value": "https://x.example/"},
                                        "conditions": list(conds)}], 2048, "redirectRules")
    return rules[0]["conditions"]


@pytest.mark.parametrize("given,stored", [
    (_cond("device", "android"), _cond("device", "android")),
    (_cond("device", "desktop"), _cond("device", "desktop")),
    (_cond("language", "es_ES"), _cond("language", "es_ES")),
    (_cond("query-param", "1", "foo"), _cond("query-param", "1", "foo")),
    (_cond("any-value-query-param", "ignored", "foo"), _cond("any-value-query-param", None, "foo")),
    (_cond("valueless-query-param", None, "foo"), _cond("valueless-query-param", None, "foo")),
    (_cond("ip-address", "1.2.3.4"), _cond("ip-address", "1.2.3.4")),
    (_cond("ip-address", "10.0.0.0/8"), _cond("ip-address", "10.0.0.0/8")),
    (_cond("ip-address", "1.2.*.*"), _cond("ip-address", "1.2.*.*")),
    (_cond("geolocation-country-code", "FR"), _cond("geolocation-country-code", "FR")),
    (_cond("geolocation-city-name", "Paris"), _cond("geolocation-city-name", "Paris")),
    (_cond("before-date", "2030-01-01T00:00:00+02:00"), _cond("before-date", "2029-12-31T22:00:00+00:00")),
    (_cond("after-date", "2030-01-01"), _cond("after-date", "2030-01-01T00:00:00+00:00")),
    (_cond("browser", "android_browser"), _cond("browser", "android_browser")),
    ({"type": "device", "matchValue": "ios", "matchKey": "dropped"}, _cond("device", "ios")),  # key order fixed
])
def test_each_condition_type_is_stored_in_one_form(given, stored):
    (condition,) = _validated(given)
    assert condition == stored and list(condition) == ["type", "matchKey", "matchValue"]


@pytest.mark.parametrize("given,element", [
    (_cond("nope", "x"), "type"),
    ({"matchValue": "x"}, "type"),
    (_cond("device", "blackberry"), "matchValue"),
    (_cond("device", None), "matchValue"),
    (_cond("language", "english!"), "matchValue"),
    (_cond("language", ""), "matchValue"),
    (_cond("query-param", "", "foo"), "matchValue"),
    (_cond("query-param", "1", None), "matchKey"),
    (_cond("any-value-query-param", None, ""), "matchKey"),
    (_cond("valueless-query-param", None, 3), "matchKey"),
    (_cond("ip-address", "1.2.3"), "matchValue"),
    (_cond("ip-address", "256.1.1.1"), "matchValue"),
    (_cond("ip-address", "1.2.3.0/33"), "matchValue"),
    (_cond("ip-address", "::1"), "matchValue"),
    (_cond("ip-address", "1.2.**.4"), "matchValue"),
    (_cond("geolocation-country-code", "fr"), "matchValue"),
    (_cond("geolocation-country-code", "FRA"), "matchValue"),
    (_cond("geolocation-city-name", " "), "matchValue"),
    (_cond("geolocation-city-name", "Pa\x00ris"), "matchValue"),
    (_cond("before-date", "tomorrow"), "matchValue"),
    (_cond("after-date", "99999-01-01"), "matchValue"),
    (_cond("browser", "lynx"), "matchValue"),
    ("device", "conditions"),
    (None, "conditions"),
])
def test_an_invalid_condition_names_the_leaf_at_fault(given, element):
    with pytest.raises(ValidationError) as caught:
        _validated(given)
    assert caught.value.field == "redirectRules" and caught.value.extra["element"] == element


@pytest.mark.parametrize("rules", [
    "x", 3, {"a": 1}, [None], [[]], [{"destination": "x"}], [{"destination": {"value": 3}}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "conditions": {"type": "device"}}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "conditions": [[]]}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "conditions": [{"type": ["device"]}]}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "conditions": [{"type": {"a": 1}}]}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "conditions": [_cond("device")] * 21}],
    [{"destination": {"type": "link", "value": "https://x.example/"}, "countries": ["US"] * 250,
      "languages": ["en", "fr"]}],
])
def test_any_json_shape_is_refused_as_invalid_never_crashes(rules):
    with pytest.raises(ValidationError):
        linkfields.validate_rules(rules, 2048)


def test_ip_patterns_take_shlinks_three_forms():
    assert all(conditions.valid_ip_pattern(p) for p in ("0.0.0.0", "1.2.3.4", "1.2.3.4/24", "*.*.*.*", "1.*.3.*"))
    assert not any(conditions.valid_ip_pattern(p) for p in ("1.2.3.4/", "1.2.3.4/-1", "01.2.3.4", "1.2.3.4.5", "*"))


def _stored(**lists):
    rule = {"priority": 0, "destination": {"type": "link", "value": "https://a.example/"}, **lists}
    return linkfields.validate_rules([rule, {"priority": 1, "destination": {"type": "email", "value": "a@b.co"},
                                             "conditions": [_cond("device", "ios")]}], 2048)


def test_an_h0p_rule_reads_as_one_flat_rule_per_combination_of_its_lists():
    flat = redirectrules.flatten(_stored(countries=["US", "CA"], osTypes=["ios"],
                                         conditions=[_cond("query-param", "1", "x")]))
    assert [(r.url, r.priority, r.conditions) for r in flat] == [
        ("https://a.example/", 1, (_cond("geolocation-country-code", "US"), _cond("device", "ios"),
                                   _cond("query-param", "1", "x"))),
        ("https://a.example/", 2, (_cond("geolocation-country-code", "CA"), _cond("device", "ios"),
                                   _cond("query-param", "1", "x"))),
        ("mailto:a@b.co", 3, (_cond("device", "ios"),)),
    ]


def test_a_rule_without_criteria_reads_as_a_rule_without_conditions():
    assert redirectrules.flatten(_stored())[0].conditions == ()


@pytest.mark.parametrize("url,destination", [
    ("https://a.example/", {"type": "link", "value": "https://a.example/"}),
    ("mailto:a@b.co", {"type": "email", "value": "a@b.co"}), ("TEL:+1 555", {"type": "phone", "value": "+1 555"}),
    (None, {"type": "link", "value": None}),
])
def test_flat_urls_become_destinations(url, destination):
    assert redirectrules.destination_of(url) == destination


FLAT = [{"destination": {"type": "link", "value": "https://one.example/"},
         "conditions": [_cond("device", "android"), _cond("language", "en-US")], "priority": 9},
        {"destination": {"type": "email", "value": "a@b.co"}, "conditions": []}]


def test_set_rules_replaces_all_numbers_them_and_reads_back_the_same(rt, user, make_link, events_seen):
    link = make_link(user, rules=[{"priority": 0, "destination": {"type": "link", "value": "https://old.example/"},
                                   "countries": ["US"]}])
    events_seen.clear()
    updated = redirectrules.set_rules(rt, user, link.id, FLAT)
    assert [r["priority"] for r in updated.rules] == [1, 2] and updated.smart
    assert [(r.url, r.priority, list(r.conditions)) for r in redirectrules.flatten(updated.rules)] == [
        ("https://one.example/", 1, FLAT[0]["conditions"]), ("mailto:a@b.co", 2, [])]
    assert [e.changed for e in events_seen.of(LinkUpdated)] == [("rules",)]


def test_set_rules_with_an_empty_list_removes_every_rule(rt, user, make_link):
    link = make_link(user, rules=FLAT)
    cleared = redirectrules.set_rules(rt, user, link.id, [])
    assert cleared.rules is None and not cleared.smart


def test_a_refused_rule_set_changes_nothing_and_publishes_nothing(rt, user, make_link, events_seen):
    link = make_link(user, rules=FLAT)
    events_seen.clear()
    with pytest.raises(ValidationError):
        redirectrules.set_rules(rt, user, link.id, FLAT + [{"destination": {"type": "link", "value": "ftp://x"}}])
    from tests.conftest import fresh
    from zipshort.models import Link

    assert len(fresh(Link, link.id).rules) == 2 and events_seen.of(LinkUpdated) == []


def test_set_rules_refuses_a_stranger(rt, user, make_user, make_link):
    link = make_link(make_user("bob"))
    with pytest.raises((NotFound, Forbidden)):
        redirectrules.set_rules(rt, user, link.id, [])


def test_default_url_is_where_a_visit_goes_without_a_match(user, make_link):
    assert redirectrules.default_url(make_link(user, destination="+1 555 0100", destination_type="phone")) \
        == "tel:+15550100"


def test_a_rule_sent_without_conditions_keeps_those_of_the_stored_rule_with_its_id():
    current = linkfields.validate_rules([{"id": "a", "destination": {"type": "link", "value": "https://a.example/"},
                                          "conditions": [_cond("device", "ios")]}], 2048)
    given = [{"id": "a", "destination": {"type": "link", "value": "https://b.example/"}, "countries": ["FR"]},
             {"id": "b", "destination": {"type": "link", "value": "https://c.example/"}}]
    carried = linkfields.carry_conditions(given, linkfields.validate_rules(given, 2048), current)
    assert [(r["id"], r["conditions"], r["countries"]) for r in carried] == [
        ("a", [_cond("device", "ios")], ["FR"]), ("b", [], [])]
    given[0]["conditions"] = []
    assert linkfields.carry_conditions(given, linkfields.validate_rules(given, 2048), current)[0]["conditions"] == []
